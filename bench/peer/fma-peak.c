/* Measured FP32 FMA peak of this CPU for `npm run bench:train`: each thread runs independent vector FMA chains
 * (10 accumulators hide the FMA latency) for a fixed count; prints total GFLOP/s over all threads.
 * Uses 512-bit FMAs where the CPU has AVX-512F, else 256-bit (AVX2 + FMA). Usage: fma-peak THREADS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITERS 100000000L
static int wide;

#define F10(r) "vfmadd231ps %%" r "14,%%" r "15,%%" r "0\n vfmadd231ps %%" r "14,%%" r "15,%%" r "1\n" \
  "vfmadd231ps %%" r "14,%%" r "15,%%" r "2\n vfmadd231ps %%" r "14,%%" r "15,%%" r "3\n" \
  "vfmadd231ps %%" r "14,%%" r "15,%%" r "4\n vfmadd231ps %%" r "14,%%" r "15,%%" r "5\n" \
  "vfmadd231ps %%" r "14,%%" r "15,%%" r "6\n vfmadd231ps %%" r "14,%%" r "15,%%" r "7\n" \
  "vfmadd231ps %%" r "14,%%" r "15,%%" r "8\n vfmadd231ps %%" r "14,%%" r "15,%%" r "9\n"

__attribute__((target("avx512f"))) static void run512(void) {
  for (long i = 0; i < ITERS; i++) __asm__ volatile(F10("zmm") ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9");
}
__attribute__((target("avx2,fma"))) static void run256(void) {
  for (long i = 0; i < ITERS; i++) __asm__ volatile(F10("ymm") ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9");
}
static void *work(void *arg) {
  (void)arg;
  if (wide) run512(); else run256();
  return NULL;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1;
  wide = __builtin_cpu_supports("avx512f");
  pthread_t t[256];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, work, NULL);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
  printf("{\"gflops\": %.1f, \"vector_bits\": %d}\n", (double)n * ITERS * 10 * (wide ? 32 : 16) / s / 1e9, wide ? 512 : 256);
  return 0;
}
