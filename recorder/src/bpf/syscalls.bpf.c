// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* rhf's eBPF syscall capture: one ring-buffer record per finished syscall of the traced
 * processes. Entry and exit are joined here, in the kernel, so user space sees one record per
 * call instead of two, and wake-ups are batched, because per-record wake-ups were measured to
 * cost more than the programs themselves (docs/BACKENDS.md). */

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "syscalls.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Unread bytes in the ring buffer past which a record wakes the reader up at once; below it,
 * user space collects on its own timer. Set by the loader before the program is loaded. */
const volatile __u64 wakeup_bytes = 1 << 20;

/* --system: every thread group but the recorder's own (`self_tgid`) is traced, and the map
 * of traced groups is not used. Set by the loader before the program is loaded. */
const volatile __u8 trace_all = 0;
const volatile __u32 self_tgid = 0;

/* --cgroup: the threads in the cgroup (v2) in slot 0 of `scope_cgroup`, or below it, are
 * traced (the recorder never). Set by the loader before the program is loaded; the loader
 * fills the slot before attaching. */
const volatile __u8 trace_cgroup = 0;

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} scope_cgroup SEC(".maps");

/* --trace: when set, only syscall numbers marked in `wanted_syscalls` are recorded, and the
 * others cost one array lookup. Set by the loader before the program is loaded. */
const volatile __u8 filter_syscalls = 0;

#define MAX_SYSCALL_NR 1024
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALL_NR);
	__type(key, __u32);
	__type(value, __u8);
} wanted_syscalls SEC(".maps");

/* Thread groups being traced (key tgid, value unused). User space adds the launched command;
 * sched_process_fork adds its children, sched_process_exit removes them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} traced_tgids SEC(".maps");

/* What a syscall entry saw, kept until its exit, in the thread's own storage: task-local
 * storage costs a pointer chase where a hash map keyed by tid costs a hash, a lookup and an
 * update on entry plus a delete on exit. `active` is 0 between calls. */
struct pending {
	__u64 entry_ns;
	__u64 nr;
	__u64 args[6];
	__u64 active;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending);
} pending_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by the loader */
} events SEC(".maps");

/* Loss is counted, never silent, per CPU: records the ring buffer had no room for (index 0),
 * calls whose entry the pending map had no room for (1), and children of traced processes
 * the tgid map had no room for, whose calls are all missing (2). */
#define DROP_RINGBUF 0
#define DROP_PENDING 1
#define DROP_CHILD 2
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline void count_drop(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &which);

	if (n)
		*n += 1;
}

/* Whether thread group `tgid`, the current task's, is traced. */
static __always_inline int is_traced(__u32 tgid)
{
	if (trace_all)
		return tgid != self_tgid;
	if (trace_cgroup)
		return tgid != self_tgid && bpf_current_task_under_cgroup(&scope_cgroup, 0) == 1;
	return bpf_map_lookup_elem(&traced_tgids, &tgid) != NULL;
}

/* Emits the record for a call that began with `p`; `flags` says whether it returned. */
static __always_inline void emit(const struct pending *p, __u64 pid_tgid, __s64 ret,
				 __u16 flags)
{
	struct rhf_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_drop(DROP_RINGBUF);
		return;
	}
	e->entry_ns = p->entry_ns;
	e->duration_ns = bpf_ktime_get_ns() - p->entry_ns;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->nr = (__u32)p->nr;
	e->kind = RHF_KIND_SYSCALL;
	e->flags = flags;
	e->ret = ret;
	__builtin_memcpy(e->args, p->args, sizeof(e->args));
	/* Waking the reader on every record costs a context switch per syscall; it is woken
	 * only once a good part of the ring is waiting, and reads on a timer otherwise. */
	__u64 wake = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes
			     ? BPF_RB_FORCE_WAKEUP
			     : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(e, wake);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	if (!is_traced(pid_tgid >> 32))
		return 0;
	if (filter_syscalls) {
		__u32 nr = (__u32)id;
		__u8 *wanted = bpf_map_lookup_elem(&wanted_syscalls, &nr);

		/* Numbers past the table (and negative ones) are not in any selection. */
		if (!wanted || !*wanted)
			return 0;
	}
	struct pending *p = bpf_task_storage_get(&pending_calls, bpf_get_current_task_btf(), 0,
						  BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!p) {
		count_drop(DROP_PENDING);
		return 0;
	}
	p->entry_ns = bpf_ktime_get_ns();
	p->nr = id;
	/* The x86-64 syscall convention: the fourth argument is in r10, not rcx. */
	p->args[0] = regs->di;
	p->args[1] = regs->si;
	p->args[2] = regs->dx;
	p->args[3] = regs->r10;
	p->args[4] = regs->r8;
	p->args[5] = regs->r9;
	p->active = 1;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct pending *p;

	/* No tgid test: a thread with a pending entry is traced (or was, until the call that
	 * just returned, e.g. an execve that made it leave a traced group's leader). */
	p = bpf_task_storage_get(&pending_calls, bpf_get_current_task_btf(), 0, 0);
	if (!p || !p->active)
		return 0;
	emit(p, bpf_get_current_pid_tgid(), ret, 0);
	p->active = 0;
	return 0;
}

/* A traced process's children are traced: new thread groups whose parent group is. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid;
	__u32 child_tgid = child->tgid;
	__u8 one = 1;

	/* Under --system and --cgroup the map is not used: children are in scope by what they
	 * are (another process, a member of the cgroup), not by descent. */
	if (trace_all || trace_cgroup || child_tgid == parent_tgid || !is_traced(parent_tgid))
		return 0;
	if (bpf_map_update_elem(&traced_tgids, &child_tgid, &one, BPF_ANY))
		count_drop(DROP_CHILD);
	return 0;
}

/* A thread that exits inside a call (exit_group, exit, a fatal signal) never reaches
 * sys_exit: its call is emitted as unfinished. The group stops being traced when its last
 * thread exits. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u32 tid = task->pid;
	__u32 tgid = task->tgid;
	struct pending *p = bpf_task_storage_get(&pending_calls, task, 0, 0);

	if (p && p->active) {
		emit(p, ((__u64)tgid << 32) | tid, 0, RHF_FLAG_UNFINISHED);
		p->active = 0;
	}
	/* signal->live has already been decremented by do_exit: zero means the group is dead.
	 * Read this way rather than through the tracepoint's group_dead argument, which older
	 * kernels do not have. */
	if (BPF_CORE_READ(task, signal, live.counter) == 0)
		bpf_map_delete_elem(&traced_tgids, &tgid);
	return 0;
}
