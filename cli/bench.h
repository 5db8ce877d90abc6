/*
 * `weft bench`: a quick measure of this machine — local writes with commit,
 * and applying those changes on a second replica, PLAIN and suite V1 — so
 * an operator can compare hosts. The full benchmark is `make bench`.
 */
#ifndef WEFT_CLI_BENCH_H
#define WEFT_CLI_BENCH_H

int cmd_bench(int argc, char **argv);

#endif
