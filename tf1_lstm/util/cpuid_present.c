/* Loaded with LD_PRELOAD: this process (and the threads and children it makes) sees the cache
 * sizes TF1_LSTM_CPUID_CACHES names ("L1d=32,L2=1024,L3=32768", KiB) in CPUID leaf 4, Intel's
 * deterministic cache parameters, which MKL-DNN's and Eigen's blocking read; every other leaf
 * and value is the CPU's own. Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID, the flag
 * cpuid_fault) makes each CPUID instruction raise SIGSEGV; the handler runs it with faulting
 * off for that moment, rewrites leaf 4 and steps over it, as rr does. Any other SIGSEGV gets
 * the default action. Built by tf1_lstm.util.present. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_SET_CPUID 0x1012

static unsigned long wanted[4]; /* bytes by level: [1] L1d, [2] L2, [3] L3; 0: the CPU's */

static void faulting(int on) { syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1); }

/* One data or unified cache's subleaf: the wanted size by its number of ways (how CPU
 * models differ), else by its number of sets. */
static void resize(unsigned *a, unsigned *b, unsigned *c) {
    unsigned kind = *a & 0x1f, level = (*a >> 5) & 7;
    if (kind == 0 || kind == 2 || level > 3 || !wanted[level]) return;
    unsigned long parts = ((*b >> 12) & 0x3ff) + 1, line = (*b & 0xfff) + 1;
    unsigned long ways = (*b >> 22) + 1, sets = *c + 1UL;
    if (wanted[level] % (parts * line * sets) == 0 && wanted[level] / (parts * line * sets) <= 1024)
        *b = (*b & 0x3fffff) | (unsigned) ((wanted[level] / (parts * line * sets) - 1) << 22);
    else
        *c = (unsigned) (wanted[level] / (ways * parts * line) - 1);
}

static void on_fault(int sig, siginfo_t *info, void *context) {
    greg_t *r = ((ucontext_t *) context)->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *) r[REG_RIP];
    (void) info;
    if (ip[0] != 0x0f || ip[1] != 0xa2) { /* not CPUID: fault again, with the default action */
        signal(sig, SIG_DFL);
        return;
    }
    unsigned leaf = (unsigned) r[REG_RAX], sub = (unsigned) r[REG_RCX], a, b, c, d;
    faulting(0);
    __cpuid_count(leaf, sub, a, b, c, d);
    faulting(1);
    if (leaf == 4) resize(&a, &b, &c);
    r[REG_RAX] = a; r[REG_RBX] = b; r[REG_RCX] = c; r[REG_RDX] = d;
    r[REG_RIP] += 2;
}

__attribute__((constructor)) static void present(void) {
    const char *text = getenv("TF1_LSTM_CPUID_CACHES");
    if (!text || !*text) return;
    char copy[256];
    strncpy(copy, text, sizeof copy - 1);
    copy[sizeof copy - 1] = 0;
    for (char *part = strtok(copy, ","); part; part = strtok(NULL, ",")) {
        unsigned long kib = strtoul(strchr(part, '=') ? strchr(part, '=') + 1 : "0", NULL, 10);
        int level = !strncmp(part, "L1d=", 4) ? 1 : !strncmp(part, "L2=", 3) ? 2
                  : !strncmp(part, "L3=", 3) ? 3 : 0;
        wanted[level] = level ? kib * 1024 : 0;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &action, NULL);
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        static const char why[] = "tf1-lstm: CPUID faulting is not available here "
                                  "(no cpuid_fault): cannot present cache sizes\n";
        (void) !write(2, why, sizeof why - 1);
        _exit(2);
    }
}
