/* The records the BPF program hands to user space through the ring buffer. The layout is
 * mirrored by recorder/src/ebpf/event.rs, which parses these bytes: change both together. */
#ifndef RHF_SYSCALLS_H
#define RHF_SYSCALLS_H

/* rhf_event.kind */
#define RHF_KIND_SYSCALL 1

/* rhf_event.flags */
/* The thread exited inside the call (exit, exit_group, or killed): ret is meaningless. */
#define RHF_FLAG_UNFINISHED 1

struct rhf_event {
	__u64 entry_ns;    /* bpf_ktime_get_ns() at entry: CLOCK_MONOTONIC */
	__u64 duration_ns; /* exit time minus entry time */
	__u32 pid;         /* thread group id, in the initial pid namespace */
	__u32 tid;
	__u32 nr;          /* x86-64 syscall number */
	__u16 kind;
	__u16 flags;
	__s64 ret;
	__u64 args[6];
};

#endif
