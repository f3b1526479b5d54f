-- tasks.lua - an example module of Lua tasks for floret (docs/tasks.md).
--
--   floret keygen --out deployer
--   floret node --trust deployer.pub &
--   floret deploy examples/lua/tasks.lua --key deployer.key
--   floret call tasks.add 4 4
--   floret run '[tasks.square(3), tasks.square(4)] | tasks.sum()'
--
-- Each function of the returned table is the task tasks.<name>. Arguments
-- arrive as Lua values (JSON arrays become sequences, objects tables,
-- null is floret.null); keyword arguments are in floret.kwargs and a binary
-- attachment in floret.attachment (a string). A task returns a JSON-able
-- value, and optionally a string as the result's attachment.

local M = {}

function M.add(a, b)
  return a + b
end

function M.square(x)
  return x * x
end

-- The sum of a list (a chord's body receives the list of results).
function M.sum(list)
  local total = 0
  for _, v in ipairs(list) do
    total = total + v
  end
  return total
end

-- Mean and (population) standard deviation of a list of numbers.
function M.stats(list)
  local n, sum, sq = #list, 0, 0
  if n == 0 then
    error("stats: the list is empty")
  end
  for _, v in ipairs(list) do
    sum = sum + v
    sq = sq + v * v
  end
  local mean = sum / n
  return {n = n, mean = mean, stddev = math.sqrt(math.max(sq / n - mean * mean, 0))}
end

-- The primes below n (sieve of Eratosthenes).
function M.primes(n)
  local sieve, out = {}, {}
  for i = 2, n - 1 do
    if not sieve[i] then
      out[#out + 1] = i
      for j = i * i, n - 1, i do
        sieve[j] = true
      end
    end
  end
  return out
end

-- Word count mapper: counts the words of the attachment (or of a string
-- argument) as floret's word count defines them - maximal runs of ASCII
-- letters, digits and bytes >= 0x80, ASCII letters lowercased - and
-- returns {word = count, ...}. kwargs.min_length keeps only longer words.
function M.wc_map(text)
  text = text or floret.attachment or ""
  local min = floret.kwargs.min_length or 1
  local counts = {}
  for word in string.gmatch(text, "[A-Za-z0-9\128-\255]+") do
    if #word >= min then
      word = string.lower(word)
      counts[word] = (counts[word] or 0) + 1
    end
  end
  return counts
end

-- Merge partial counts ({word = count} tables) into one.
function M.wc_merge(parts)
  local total = {}
  for _, part in ipairs(parts) do
    for word, n in pairs(part) do
      total[word] = (total[word] or 0) + n
    end
  end
  return total
end

return M
