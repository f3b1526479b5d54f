/*
 * main.c - the floret-sim command: run one seed or a range of seeds of the
 * deterministic simulator, print each broken invariant with the one-line
 * command that replays it, and end with "N passed, N failed".
 * Depends on sim.h and the C standard library.
 */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_params_default(sim_params *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->workers = 5;
    p->clients = 1;
    p->tasks = 200;
    p->net.delay_min = 100;         /* 0.1 ms .. 5 ms one way */
    p->net.delay_max = 5 * SIM_MS;
    p->net.reorder_max = 2 * SIM_S;
    p->max_time = 1800 * SIM_S;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: floret-sim [options]\n"
        "  --seed N          run one seed (default 1)\n"
        "  --seeds A:B       run seeds A..B inclusive\n"
        "  --nodes N         worker nodes (default 5)\n"
        "  --clients N       submitting clients (default 1)\n"
        "  --tasks N         tasks submitted in total (default 200)\n"
        "  --workflows N     Canvas workflows applied by each client, drawn\n"
        "                    in turn from docs/simulator.md's list (default 0)\n"
        "  --loss P          probability a delivery is lost\n"
        "  --dup P           probability a delivery is duplicated\n"
        "  --reorder P       probability a delivery is delayed past others\n"
        "  --reorder-max MS  largest extra delay of a reordered delivery "
        "(default 2000)\n"
        "  --delay A:B       one-way delay range in ms (default 0.1:5)\n"
        "  --crash P         crash rate per worker per virtual second\n"
        "  --disconnect P    disconnect rate per node per virtual second\n"
        "  --broker-restarts N  times the broker dies (0.5 to 5 s each) and\n"
        "                    comes back empty, from 0.5 s on (default 0)\n"
        "  --max-time S      virtual seconds before a task counts as lost "
        "(default 1800)\n"
        "  --allow-spin      do not fail a core that asks for more than 500\n"
        "                    ticks in one virtual second\n"
        "  --verbose         trace every message and event\n"
        "  --selftest        check the simulator's own machinery\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    uint64_t v;
    if (!parse_u64(s, &v) || v < (uint64_t)lo || v > (uint64_t)hi)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_prob(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0 && v <= 1))
        return false;
    *out = v;
    return true;
}

static bool parse_range(const char *s, uint64_t *a, uint64_t *b)
{
    char buf[64];
    const char *colon = strchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof buf)
        return false;
    memcpy(buf, s, (size_t)(colon - s));
    buf[colon - s] = '\0';
    return parse_u64(buf, a) && parse_u64(colon + 1, b) && *a <= *b;
}

static bool parse_ms_range(const char *s, uint64_t *a, uint64_t *b)
{
    char *end;
    double lo = strtod(s, &end);
    if (end == s || *end != ':')
        return false;
    const char *rest = end + 1;
    double hi = strtod(rest, &end);
    if (end == rest || *end || !(lo >= 0 && hi >= lo && hi < 1e7))
        return false;
    *a = (uint64_t)(lo * 1000.0);
    *b = (uint64_t)(hi * 1000.0);
    return true;
}

/* The exact command that replays p (every knob, so defaults may change). */
static void print_replay(const char *argv0, const sim_params *p)
{
    printf("  replay: %s --seed %llu --nodes %d --clients %d "
           "--tasks %d --workflows %d --loss %g --dup %g --reorder %g --reorder-max %g "
           "--delay %g:%g --crash %g --disconnect %g --broker-restarts %d "
           "--max-time %llu%s%s "
           "(add --verbose to trace)\n",
           argv0, (unsigned long long)p->seed, p->workers, p->clients, p->tasks,
           p->workflows,
           p->net.loss, p->net.dup, p->net.reorder,
           (double)p->net.reorder_max / 1000.0,
           (double)p->net.delay_min / 1000.0,
           (double)p->net.delay_max / 1000.0, p->crash, p->disconnect,
           p->broker_restarts,
           (unsigned long long)(p->max_time / SIM_S),
           p->allow_spin ? " --allow-spin" : "", p->mixed ? " --mixed" : "");
}

typedef struct cli {
    sim_params p;
    uint64_t first, last;
    bool selftest;
} cli;

static int parse_args(int argc, char **argv, cli *c)
{
    sim_params *p = &c->p;
    sim_params_default(p);
    c->first = c->last = 1;
    c->selftest = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        uint64_t secs;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--verbose")) {
            p->verbose = true;
            takes = false;
        } else if (!strcmp(a, "--allow-spin")) {
            p->allow_spin = true;
            takes = false;
        } else if (!strcmp(a, "--mixed")) {
            p->mixed = true;
            takes = false;
        } else if (!strcmp(a, "--selftest")) {
            c->selftest = true;
            takes = false;
        } else if (!v) {
            ok = false;
        } else if (!strcmp(a, "--seed")) {
            ok = parse_u64(v, &c->first);
            c->last = c->first;
        } else if (!strcmp(a, "--seeds")) {
            ok = parse_range(v, &c->first, &c->last);
        } else if (!strcmp(a, "--nodes")) {
            ok = parse_int(v, 1, 2000, &p->workers);
        } else if (!strcmp(a, "--clients")) {
            ok = parse_int(v, 1, 16, &p->clients);
        } else if (!strcmp(a, "--tasks")) {
            ok = parse_int(v, 0, 1000000, &p->tasks);
        } else if (!strcmp(a, "--workflows")) {
            ok = parse_int(v, 0, 10000, &p->workflows);
        } else if (!strcmp(a, "--loss")) {
            ok = parse_prob(v, &p->net.loss) && p->net.loss < 1;
        } else if (!strcmp(a, "--dup")) {
            ok = parse_prob(v, &p->net.dup);
        } else if (!strcmp(a, "--reorder")) {
            ok = parse_prob(v, &p->net.reorder);
        } else if (!strcmp(a, "--reorder-max")) {
            uint64_t lo;
            char buf[80];
            snprintf(buf, sizeof buf, "0:%s", v);
            ok = parse_ms_range(buf, &lo, &p->net.reorder_max) &&
                 p->net.reorder_max > 0;
        } else if (!strcmp(a, "--delay")) {
            ok = parse_ms_range(v, &p->net.delay_min, &p->net.delay_max);
        } else if (!strcmp(a, "--crash")) {
            ok = parse_prob(v, &p->crash);
        } else if (!strcmp(a, "--disconnect")) {
            ok = parse_prob(v, &p->disconnect);
        } else if (!strcmp(a, "--broker-restarts")) {
            ok = parse_int(v, 0, 1000, &p->broker_restarts);
        } else if (!strcmp(a, "--max-time")) {
            ok = parse_u64(v, &secs) && secs > 0 && secs < 1000000;
            p->max_time = secs * SIM_S;
        } else {
            fprintf(stderr, "floret-sim: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "floret-sim: bad or missing value for %s\n", a);
            return 2;
        }
        if (takes)
            i++;
    }
    return -1;
}

int main(int argc, char **argv)
{
    cli c;
    int rc = parse_args(argc, argv, &c);
    if (rc >= 0)
        return rc;
    char why[1024];
    if (c.selftest) {
        bool ok = sim_selftest(why, sizeof why);
        if (!ok)
            printf("selftest: FAIL: %s\n", why);
        printf("%d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
        return ok ? 0 : 1;
    }
    unsigned long long passed = 0, failed = 0;
    for (uint64_t s = c.first;; s++) {
        c.p.seed = s;
        if (sim_run(&c.p, why, sizeof why)) {
            passed++;
        } else {
            failed++;
            printf("seed %llu: FAIL: %s\n", (unsigned long long)s, why);
            print_replay(argv[0], &c.p);
            fflush(stdout);
        }
        if (s == c.last)
            break;
    }
    printf("%llu passed, %llu failed\n", passed, failed);
    return failed ? 1 : 0;
}
