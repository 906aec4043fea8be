/* The records the BPF program hands to user space through the ring buffer, and the table of
 * arguments it captures. The layout is mirrored by recorder/src/ebpf/event.rs (records) and
 * recorder/src/ebpf/capture_table.rs (the table): change them together. */
#ifndef RHF_SYSCALLS_H
#define RHF_SYSCALLS_H

/* rhf_event.kind. Every record starts with a struct rhf_event; the fields' meaning for the
 * lifecycle kinds is given next to each kind. */
#define RHF_KIND_SYSCALL 1
/* A new thread or process, from sched_process_fork: pid/tid are the parent's, args[0] the
 * child's tgid, args[1] its tid, args[2] clone flags as far as they can be told from what
 * parent and child share (CLONE_VM, _FS, _FILES, _SIGHAND, _THREAD, _PARENT) plus the exit
 * signal, other flags 0; args[3] is the parent's syscall in progress plus one (0: none
 * recorded) and args[4] that call's first argument (clone's flags). */
#define RHF_KIND_SPAWN 2
/* A successful exec, from sched_process_exec: pid/tid after the exec, args[0] the tid before
 * it (differs when a non-leader thread exec'd). A capture tail follows: entry 0 the filename
 * (arg 0), entry 1 the new program's argument area (arg 1, NUL-separated strings), entry 2
 * its environment area (arg 2, NUL-separated NAME=value strings; left out under --no-env). */
#define RHF_KIND_EXEC 3
/* A thread ended, from sched_process_exit: args[0] is task->exit_code (wait status layout:
 * code << 8, or signal | 0x80 when it dumped core). */
#define RHF_KIND_EXIT 4

/* rhf_event.flags */
/* The thread exited inside the call (exit, exit_group, or killed): ret is meaningless. */
#define RHF_FLAG_UNFINISHED 1
/* RHF_KIND_EXIT: the thread was the last of its group. */
#define RHF_FLAG_GROUP_DEAD 2
/* RHF_KIND_SYSCALL: a 32-bit compat call (int 0x80, sysenter): nr is an i386 number and
 * args are ebx, ecx, edx, esi, edi, ebp. No memory is captured for it. */
#define RHF_FLAG_COMPAT 4

struct rhf_event {
	__u64 entry_ns;    /* bpf_ktime_get_ns() at entry (lifecycle: at the event): MONOTONIC */
	__u64 duration_ns; /* exit time minus entry time */
	__u32 pid;         /* thread group id, in the initial pid namespace */
	__u32 tid;
	__u32 nr;          /* x86-64 syscall number */
	__u16 kind;
	__u16 flags;
	__s64 ret;
	__u64 args[6];
};

/* Captured argument memory. A record longer than struct rhf_event carries a struct rhf_tail
 * right after it, then the captured bytes of each entry in entry order: exactly
 * sizeof(rhf_event) + sizeof(rhf_tail) + the sum of the entries' lengths. */
#define RHF_MAX_CAPTURES 3
/* Longest string captured, its NUL included (bpf_probe_read_user_str's size). */
#define RHF_STR_MAX 256
/* Longest socket address captured (sizeof(struct sockaddr_storage)). */
#define RHF_SOCKADDR_MAX 128
/* Longest exec argument area captured. */
#define RHF_ARGV_MAX 512
/* Longest exec environment area captured. */
#define RHF_ENV_MAX 1024
/* Room for the captured bytes of one record: three strings, or an exec's filename, argument
 * area and environment area. */
#define RHF_DATA_MAX (RHF_STR_MAX + RHF_ARGV_MAX + RHF_ENV_MAX)

/* rhf_capture.flags: the memory went on past what was captured (no NUL within the string
 * cap, or an argument area longer than RHF_ARGV_MAX). */
#define RHF_CAPTURE_CUT 1

struct rhf_capture {
	__u8 arg;   /* the argument's index (0-5) */
	__u8 flags;
	__u16 len;  /* bytes captured: a string's NUL is included unless the string was cut */
};

struct rhf_tail {
	__u8 count; /* entries used */
	__u8 pad[3];
	struct rhf_capture entry[RHF_MAX_CAPTURES];
};

/* What to capture for one syscall number (the arg_captures map, filled by the loader from
 * the Rust syscall table). count == 0: nothing, and the call costs no more than before. */
#define RHF_CAPTURE_STR 1      /* a NUL-terminated string or path */
#define RHF_CAPTURE_SOCKADDR 2 /* a socket address whose length is argument len_arg */

struct rhf_capture_slot {
	__u8 arg;
	__u8 kind;
	__u8 len_arg;
	__u8 pad;
};

struct rhf_capture_spec {
	__u8 count;
	__u8 pad[3];
	struct rhf_capture_slot slot[RHF_MAX_CAPTURES];
};

#endif
