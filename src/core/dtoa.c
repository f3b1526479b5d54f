/*
 * dtoa.c - fl__dtoa (dtoa.h): exact decimal digits of a double, by big
 * integer arithmetic (Steele & White / Burger & Dybvig's setup, without
 * their free-format shortcut), so no floating point operation and no
 * printf is involved and every digit is right.
 *
 * x = r / s exactly, scaled so that 0.1 <= r/s < 1; mp / s and mm / s are
 * half the gaps to x's neighbours above and below. Each step takes the
 * next digit and then asks whether the value correctly rounded at this
 * many digits (what printf would print at that precision) lies within
 * those half gaps, i.e. reads back as x; the first precision that does
 * wins. All numbers stay below 2^1090, so 36 words of 32 bits hold them.
 * Depends on dtoa.h and <stdint.h>, <string.h>.
 */
#include "dtoa.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define BN_WORDS 36

typedef struct bn {
    uint32_t w[BN_WORDS]; /* little-endian */
    int n;                /* words in use; w[n-1] != 0 unless n == 0 */
} bn;

static void bn_set(bn *b, uint64_t v)
{
    b->w[0] = (uint32_t)v;
    b->w[1] = (uint32_t)(v >> 32);
    b->n = b->w[1] ? 2 : b->w[0] ? 1 : 0;
}

static void bn_mul_small(bn *b, uint32_t f)
{
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t p = (uint64_t)b->w[i] * f + carry;
        b->w[i] = (uint32_t)p;
        carry = p >> 32;
    }
    if (carry)
        b->w[b->n++] = (uint32_t)carry;
}

static void bn_mul_pow10(bn *b, int k)
{
    for (; k >= 9; k -= 9)
        bn_mul_small(b, 1000000000u);
    static const uint32_t small[9] = {1, 10, 100, 1000, 10000, 100000,
                                      1000000, 10000000, 100000000};
    if (k > 0)
        bn_mul_small(b, small[k]);
}

static void bn_shl(bn *b, int bits)
{
    if (b->n == 0 || bits == 0)
        return;
    int words = bits / 32, rest = bits % 32;
    if (rest) {
        uint32_t carry = 0;
        for (int i = 0; i < b->n; i++) {
            uint32_t v = b->w[i];
            b->w[i] = v << rest | carry;
            carry = v >> (32 - rest);
        }
        if (carry)
            b->w[b->n++] = carry;
    }
    if (words) {
        memmove(b->w + words, b->w, (size_t)b->n * sizeof b->w[0]);
        memset(b->w, 0, (size_t)words * sizeof b->w[0]);
        b->n += words;
    }
}

static int bn_cmp(const bn *a, const bn *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

/* a -= b, with a >= b. */
static void bn_sub(bn *a, const bn *b)
{
    uint32_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        uint64_t sub = (uint64_t)(i < b->n ? b->w[i] : 0) + borrow;
        borrow = a->w[i] < sub;
        a->w[i] = (uint32_t)((uint64_t)a->w[i] - sub);
    }
    while (a->n && a->w[a->n - 1] == 0)
        a->n--;
}

/* Only the words in use: a whole struct is 148 bytes. */
static void bn_copy(bn *out, const bn *a)
{
    out->n = a->n;
    memcpy(out->w, a->w, (size_t)a->n * sizeof a->w[0]);
}

/* out = a - b, with a >= b. */
static void bn_diff(bn *out, const bn *a, const bn *b)
{
    bn_copy(out, a);
    bn_sub(out, b);
}

/* cmp(2a, b), the doubled words made on the fly from the top down. */
static int bn_cmp_twice(const bn *a, const bn *b)
{
    int n = a->n && (a->w[a->n - 1] >> 31) ? a->n + 1 : a->n;
    if (n != b->n)
        return n < b->n ? -1 : 1;
    for (int i = n - 1; i >= 0; i--) {
        uint32_t hi = i < a->n ? a->w[i] << 1 : 0;
        uint32_t lo = i > 0 ? a->w[i - 1] >> 31 : 0;
        uint32_t v = hi | lo;
        if (v != b->w[i])
            return v < b->w[i] ? -1 : 1;
    }
    return 0;
}

/* The state of one conversion: x = r / s, half gaps mp / s, mm / s. */
typedef struct dstate {
    bn r, s, mp, mm;
    bool inclusive; /* an even mantissa reads back from the gap's ends */
} dstate;

/* Sets up x = f * 2^e (f < 2^53) and returns k with 10^(k-1) <= x <
 * 10^k, scaling so that 0.1 <= r/s < 1. */
static int setup(dstate *d, uint64_t f, int e, bool lower_closer)
{
    /* Two times everything, so that the half gaps are whole numbers; four
     * when the gap below is half the one above (f = 2^52, not the least
     * exponent). */
    int extra = lower_closer ? 2 : 1;
    bn_set(&d->r, f);
    bn_set(&d->s, 1);
    bn_set(&d->mp, lower_closer ? 2 : 1);
    bn_set(&d->mm, 1);
    bn_shl(&d->r, extra);
    if (e >= 0) {
        bn_shl(&d->r, e);
        bn_shl(&d->mp, e);
        bn_shl(&d->mm, e);
        bn_shl(&d->s, extra);
    } else {
        bn_shl(&d->s, extra - e);
    }
    /* Estimate k from the binary exponent (log10(2) ~ 77/256, always a
     * little low), then correct it by comparisons. */
    int bits = 0;
    for (uint64_t t = f; t; t >>= 1)
        bits++;
    int e2 = e + bits - 1; /* 2^e2 <= x < 2^(e2+1) */
    int k = e2 >= 0 ? (e2 * 77) / 256 : -((-e2 * 77 + 255) / 256) - 1;
    if (k >= 0) {
        bn_mul_pow10(&d->s, k);
    } else {
        bn_mul_pow10(&d->r, -k);
        bn_mul_pow10(&d->mp, -k);
        bn_mul_pow10(&d->mm, -k);
    }
    /* Now x / 10^k = r / s; make it [0.1, 1). */
    while (bn_cmp(&d->r, &d->s) >= 0) {
        bn_mul_small(&d->s, 10);
        k++;
    }
    for (;;) {
        bn t;
        bn_copy(&t, &d->r);
        bn_mul_small(&t, 10);
        if (bn_cmp(&t, &d->s) >= 0)
            break;
        bn_copy(&d->r, &t);
        bn_mul_small(&d->mp, 10);
        bn_mul_small(&d->mm, 10);
        k--;
    }
    return k;
}

/* Within the half gap g (compared with the distance dist)? */
static bool within(const bn *dist, const bn *g, bool inclusive)
{
    int c = bn_cmp(dist, g);
    return c < 0 || (inclusive && c == 0);
}

/* The shortest correctly rounded digits of x (> 0) that read back as x,
 * into digits (17 bytes); returns their count, *exp10 the power of ten of
 * the first. */
static int shortest_digits(uint64_t f, int e, bool lower_closer,
                           bool inclusive, char *digits, int *exp10)
{
    dstate d;
    d.inclusive = inclusive;
    int k = setup(&d, f, e, lower_closer);
    int p = 0;
    for (;;) {
        bn_mul_small(&d.r, 10);
        bn_mul_small(&d.mp, 10);
        bn_mul_small(&d.mm, 10);
        int digit = 0;
        while (bn_cmp(&d.r, &d.s) >= 0) {
            bn_sub(&d.r, &d.s);
            digit++;
        }
        digits[p++] = (char)('0' + digit);
        /* The rest is r/s of a unit of this digit; printf rounds half to
         * even. */
        int half = bn_cmp_twice(&d.r, &d.s);
        bool up = half > 0 || (half == 0 && (digit & 1));
        bool reads_back;
        if (up) {
            bn dist;
            bn_diff(&dist, &d.s, &d.r);
            reads_back = within(&dist, &d.mp, d.inclusive);
        } else {
            reads_back = within(&d.r, &d.mm, d.inclusive);
        }
        if (reads_back || p == 17) {
            if (up) {
                int i = p - 1;
                while (i >= 0 && digits[i] == '9')
                    digits[i--] = '0';
                if (i >= 0) {
                    digits[i]++;
                } else {
                    digits[0] = '1';
                    k++;
                }
            }
            break;
        }
    }
    *exp10 = k - 1;
    return p;
}

static char *put_exponent(char *o, int x)
{
    *o++ = 'e';
    *o++ = x < 0 ? '-' : '+';
    unsigned u = x < 0 ? (unsigned)-x : (unsigned)x;
    if (u >= 100)
        *o++ = (char)('0' + u / 100);
    *o++ = (char)('0' + u / 10 % 10);
    *o++ = (char)('0' + u % 10);
    return o;
}

/* %.{prec}g's layout of digits[0..n) (trailing zeros already cut) whose
 * first has the power of ten x. */
static char *layout(char *o, const char *digits, int n, int x, int prec)
{
    if (x < -4 || x >= prec) {
        *o++ = digits[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(n - 1));
            o += n - 1;
        }
        return put_exponent(o, x);
    }
    if (x < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = -1; i > x; i--)
            *o++ = '0';
        memcpy(o, digits, (size_t)n);
        return o + n;
    }
    for (int i = 0; i <= x; i++)
        *o++ = i < n ? digits[i] : '0';
    if (n > x + 1) {
        *o++ = '.';
        memcpy(o, digits + x + 1, (size_t)(n - x - 1));
        o += n - x - 1;
    }
    return o;
}

size_t fl__dtoa(double x, char *out)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    bool neg = bits >> 63;
    int be = (int)(bits >> 52 & 0x7FF);
    uint64_t frac = bits & (((uint64_t)1 << 52) - 1);
    char *o = out;
    if (neg)
        *o++ = '-';
    if (be == 0x7FF) {
        const char *s = frac ? "nan" : "inf";
        if (frac)
            o = out;
        memcpy(o, s, 4);
        return (size_t)(o - out) + 3;
    }
    if (be == 0 && frac == 0) {
        *o++ = '0';
        *o = '\0';
        return (size_t)(o - out);
    }
    uint64_t f;
    int e;
    if (be == 0) {
        f = frac;
        e = -1074;
    } else {
        f = frac | (uint64_t)1 << 52;
        e = be - 1075;
    }
    bool lower_closer = frac == 0 && be > 1;
    char digits[17];
    int x10;
    int p = shortest_digits(f, e, lower_closer, (f & 1) == 0, digits, &x10);
    int n = p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    o = layout(o, digits, n, x10, p);
    *o = '\0';
    return (size_t)(o - out);
}
