// dashboard_check.mjs - drives the floret dashboard page in Debian's headless
// Chromium through playwright-core, one step per line on stdin, for
// tests/integration/test_dashboard.py:
//   node dashboard_check.mjs URL SCREENSHOT NODE...
// prints "listed" once every NODE has a card; then reads "offline ID" and
// prints "offline" once that card says offline (30 s at most); reads
// "done N" and prints "counted" once the page's done count reaches N and a
// failure shows its error; reads "shot" and prints "shot" after saving the
// screenshot; reads "picture N OUT" and prints "painted" once the picture's
// caption counts N tiles, after writing the canvas's pixels (RGBA, row by
// row) to OUT.rgba and, to OUT.json, its size, the caption's rows (node,
// tiles, tint, swatch colour) and the share list's colours by node.
// Any failure prints "error: ..." and exits 1.
// Depends on node, playwright-core (NPM_DIR/node_modules) and /usr/bin/chromium.
import { createRequire } from "module";
import readline from "readline";
import fs from "fs";

const require = createRequire((process.env.NPM_DIR || ".") + "/node_modules/");
const { chromium } = require("playwright-core");
const [url, shot, ...nodes] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin });
const queue = [];
let waiting = null;
lines.on("line", l => { if (waiting) { const w = waiting; waiting = null; w(l); } else queue.push(l); });
const nextLine = () => queue.length ? Promise.resolve(queue.shift()) : new Promise(r => { waiting = r; });

// A fresh profile directory per run (the test makes it in its temp dir).
const browser = await chromium.launchPersistentContext(
  process.env.CHROME_PROFILE || "/tmp/floret-chrome-profile", {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
try {
  const page = await browser.newPage();
  page.on("pageerror", e => console.log("error: page: " + e.message));
  await page.goto(url);
  for (const n of nodes)
    await page.waitForSelector(`.node[data-node="${n}"][data-state="online"]`, { timeout: 20000 });
  console.log("listed");
  for (;;) {
    const line = await nextLine();
    const [cmd, arg] = line.split(" ");
    if (cmd === "offline") {
      await page.waitForSelector(`.node[data-node="${arg}"][data-state="offline"]`, { timeout: 30000 });
      console.log("offline");
    } else if (cmd === "done") {
      await page.waitForFunction(n => Number(document.getElementById("k-done").dataset.value) >= n,
                                 Number(arg), { timeout: 20000 });
      await page.waitForFunction(() => document.getElementById("failures").textContent.includes("TaskError"),
                                 null, { timeout: 20000 });
      console.log("counted");
    } else if (cmd === "picture") {
      const [, n, out] = line.split(" ");
      await page.waitForFunction(k => Number(document.getElementById("picture-caption").dataset.done) >= k,
                                 Number(n), { timeout: 30000 });
      // the share of the work lists those nodes once their stats (every 2 s) came
      await page.waitForFunction(() => {
        const share = [...document.querySelectorAll("#sharelist .s")].map(r => r.children[1].textContent);
        return [...document.querySelectorAll("#picture-nodes .s")].every(r => share.includes(r.dataset.node));
      }, null, { timeout: 15000 });
      const got = await page.evaluate(() => {
        const c = document.getElementById("picture");
        const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let bin = "";
        for (let i = 0; i < px.length; i += 8192)
          bin += String.fromCharCode.apply(null, px.subarray(i, i + 8192));
        const rows = [...document.querySelectorAll("#picture-nodes .s")].map(r => ({
          node: r.dataset.node, tiles: Number(r.dataset.tiles), tint: Number(r.dataset.tint),
          color: r.querySelector(".sw").style.background }));
        const share = {};
        for (const r of document.querySelectorAll("#sharelist .s"))
          share[r.children[1].textContent] = r.querySelector(".sw").style.background;
        return { width: c.width, height: c.height, rgba: btoa(bin), rows, share,
                 caption: document.getElementById("picture-caption").textContent };
      });
      fs.writeFileSync(out + ".rgba", Buffer.from(got.rgba, "base64"));
      delete got.rgba;
      fs.writeFileSync(out + ".json", JSON.stringify(got));
      console.log("painted");
    } else if (cmd === "shot") {
      await page.waitForTimeout(2500); // one more chart sample
      await page.screenshot({ path: arg || shot, fullPage: true });
      console.log("shot");
      break;
    }
  }
} catch (e) {
  console.log("error: " + e.message.split("\n")[0]);
  process.exitCode = 1;
} finally {
  await browser.close();
}
