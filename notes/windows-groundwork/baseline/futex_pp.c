// Linux baseline: cross-process futex ping-pong over MAP_SHARED|MAP_ANONYMOUS (no /dev/shm use)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static void fwait(atomic_int* a, int v) { syscall(SYS_futex, a, FUTEX_WAIT, v, NULL, NULL, 0); }
static void fwake(atomic_int* a) { syscall(SYS_futex, a, FUTEX_WAKE, 1, NULL, NULL, 0); }
int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 10000;
  atomic_int* turn = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  *turn = 0;
  pid_t p = fork();
  int me = p == 0 ? 1 : 0;
  struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) {
    int c; while ((c = atomic_load(turn)) != me) fwait(turn, c);
    atomic_store(turn, 1 - me); fwake(turn);
  }
  if (p == 0) return 0;
  waitpid(p, 0, 0); clock_gettime(CLOCK_MONOTONIC, &b);
  double us = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
  printf("linux futex ping-pong %d round trips: %.1f us/round trip\n", n, us / n);
}
