/*
 * Issues syscall numbers with all-zero arguments for tests/strace_classes.rs, so that
 * `strace -e trace=%CLASS` shows which of them strace puts in the class.
 *
 * Nothing is executed: a seccomp filter installed first makes every call except exit(2)
 * fail with ENOSYS. strace still sees each call, because the ptrace syscall-entry stop
 * comes before the seccomp check. No libc (-nostdlib -static), so the probe makes no other
 * calls. nums.h (written by the test) defines NUMS, the numbers to issue, ending with -1;
 * PROBE_I386 selects `int $0x80` (i386 numbering) instead of `syscall`.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include "nums.h"

static long sc64(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

#ifdef PROBE_I386
static long sc32(long n)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(0), "c"(0), "d"(0) : "memory");
	return r;
}
#endif

static struct sock_filter filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 60 /* exit */, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 38 /* ENOSYS */),
};

static const short nums[] = { NUMS };

void _start(void)
{
	struct sock_fprog prog = { sizeof(filter) / sizeof(filter[0]), filter };

	if (sc64(157 /* prctl */, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0) != 0)
		sc64(60, 2, 0, 0);
	if (sc64(317 /* seccomp */, SECCOMP_SET_MODE_FILTER, 0, (long)&prog) != 0)
		sc64(60, 3, 0, 0);
	for (int i = 0; nums[i] >= 0; i++) {
#ifdef PROBE_I386
		sc32(nums[i]);
#else
		sc64(nums[i], 0, 0, 0);
#endif
	}
	sc64(60, 0, 0, 0);
	for (;;)
		;
}
