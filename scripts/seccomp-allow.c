/*
 * seccomp-allow: runs a command under a one-instruction seccomp filter that allows every
 * syscall. What it adds to a command's time is what the kernel's seccomp path costs on every
 * call, whatever the filter: the floor under any `--trace` (rhf or strace --seccomp-bpf).
 *
 * Build: gcc -O2 -o seccomp-allow seccomp-allow.c   (scripts/bench-record.sh does)
 * Use:   ./seccomp-allow CMD [ARGS...]   (as root, or it sets no_new_privs first)
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s CMD [ARGS...]\n", argv[0]); return 2; }
    struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
    struct sock_fprog prog = { 1, allow };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
            perror("seccomp");
            return 126;
        }
    }
    execvp(argv[1], argv + 1);
    perror("execvp");
    return 127;
}
