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

/* thread_info.status: the thread is in a 32-bit compat syscall (arch/x86). */
#define TS_COMPAT 0x0002

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

/* Whether exec records carry the new program's environment (not under --no-env). Set by the
 * loader before the program is loaded. */
const volatile __u8 capture_env = 1;

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

/* Which arguments to capture, per x86-64 syscall number: filled by the loader from the Rust
 * syscall table (nothing about particular syscalls is written here). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALL_NR);
	__type(key, __u32);
	__type(value, struct rhf_capture_spec);
} arg_captures SEC(".maps");

/* What a syscall entry saw, kept until its exit, in the thread's own storage: task-local
 * storage costs a pointer chase where a hash map keyed by tid costs a hash, a lookup and an
 * update on entry plus a delete on exit. `ev`, `tail` and `data` are laid out as the ring
 * record itself, so the exit hands them over with one copy. `active` is 0 between calls. */
struct pending {
	/* First, next to the header: every call touches these, and on the far side of `data`
	 * they cost an extra cache line at each entry and exit (measured). */
	__u32 active;
	__u32 data_len;
	/* RHF_FLAG_COMPAT for a 32-bit call, else 0: added to the record's flags. */
	__u32 entry_flags;
	struct rhf_event ev;
	struct rhf_tail tail;
	__u8 data[RHF_DATA_MAX];
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

/* An exec record is built here (it is too large for the BPF stack) and then copied into the
 * ring buffer at its real length. Per CPU: tracing programs do not migrate while they run. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending);
} exec_scratch SEC(".maps");

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

/* Waking the reader on every record costs a context switch per syscall; it is woken only
 * once a good part of the ring is waiting (or for records it must act on at once), and reads
 * on a timer otherwise. */
static __always_inline __u64 wakeup_flag(int urgent)
{
	return urgent || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

/* Copies the record that starts at `r->ev` into the ring buffer: the fixed part alone, or
 * with its capture tail and bytes. */
static __always_inline void submit(struct pending *r, int urgent)
{
	__u64 size = sizeof(r->ev);

	if (r->tail.count) {
		__u32 len = r->data_len;

		if (len > RHF_DATA_MAX)
			len = RHF_DATA_MAX;
		size += sizeof(r->tail) + len;
	}
	if (bpf_ringbuf_output(&events, &r->ev, size, wakeup_flag(urgent)))
		count_drop(DROP_RINGBUF);
}

/* Emits the record for a call that began with `p`; `flags` says whether it returned. A call
 * with captured memory goes out from its storage, tail and all; the common call without is
 * written straight into a reserved record, which measured about 10 ns cheaper per call
 * than finishing the header in storage and copying it out (docs/BACKENDS.md). */
static __always_inline void emit(struct pending *p, __u64 pid_tgid, __s64 ret, __u16 flags)
{
	__u64 now = bpf_ktime_get_ns();

	if (p->tail.count) {
		p->ev.duration_ns = now - p->ev.entry_ns;
		p->ev.pid = pid_tgid >> 32;
		p->ev.tid = (__u32)pid_tgid;
		p->ev.kind = RHF_KIND_SYSCALL;
		p->ev.flags = flags | p->entry_flags;
		p->ev.ret = ret;
		submit(p, 0);
		return;
	}
	struct rhf_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_drop(DROP_RINGBUF);
		return;
	}
	e->entry_ns = p->ev.entry_ns;
	e->duration_ns = now - p->ev.entry_ns;
	e->pid = pid_tgid >> 32;
	e->tid = (__u32)pid_tgid;
	e->nr = p->ev.nr;
	e->kind = RHF_KIND_SYSCALL;
	e->flags = flags | p->entry_flags;
	e->ret = ret;
	__builtin_memcpy(e->args, p->ev.args, sizeof(e->args));
	bpf_ringbuf_submit(e, wakeup_flag(0));
}

/* Records one captured entry of `len` bytes at data offset `off`; returns the next offset. */
static __always_inline __u32 add_capture(struct pending *p, __u32 off, __u8 arg, long len,
					 __u8 flags)
{
	__u8 n = p->tail.count;

	if (n >= RHF_MAX_CAPTURES)
		return off;
	p->tail.entry[n].arg = arg;
	p->tail.entry[n].flags = flags;
	p->tail.entry[n].len = len;
	p->tail.count = n + 1;
	return off + len;
}

/* Copies a NUL-terminated user or kernel string to data offset `off` (bounded by the
 * caller). A string that fills the whole cap may go on: it is marked cut and its NUL
 * dropped, so the reader sees it end without one. */
static __always_inline __u32 capture_str(struct pending *p, __u32 off, __u8 arg, const void *src,
					 int kernel)
{
	long len;

	if (off > RHF_DATA_MAX - RHF_STR_MAX)
		return off;
	if (kernel)
		len = bpf_probe_read_kernel_str(&p->data[off], RHF_STR_MAX, src);
	else
		len = bpf_probe_read_user_str(&p->data[off], RHF_STR_MAX, src);
	if (len <= 0)
		return off;
	if (len >= RHF_STR_MAX)
		return add_capture(p, off, arg, RHF_STR_MAX - 1, RHF_CAPTURE_CUT);
	return add_capture(p, off, arg, len, 0);
}

/* Copies `want` bytes of user memory, at most `cap` (RHF_SOCKADDR_MAX, RHF_ARGV_MAX or
 * RHF_ENV_MAX), to
 * data offset `off`; more than `cap` is marked cut. */
static __always_inline __u32 capture_mem(struct pending *p, __u32 off, __u8 arg, const void *src,
					 __u64 want, __u32 cap)
{
	__u8 flags = 0;

	if (want > cap) {
		want = cap;
		flags = RHF_CAPTURE_CUT;
	}
	if (want == 0 || cap > RHF_ENV_MAX || off > RHF_DATA_MAX - cap)
		return off;
	if (bpf_probe_read_user(&p->data[off], want, src))
		return off;
	return add_capture(p, off, arg, want, flags);
}

/* Reads, at entry, the memory behind the arguments `spec` names, before the call (or another
 * thread) can change it. A pointer that cannot be read (NULL, a fault, a page not yet
 * faulted in) is left out, and user space records the argument as unreadable. */
static __always_inline void capture_args(struct pending *p, const struct rhf_capture_spec *spec)
{
	__u32 off = 0;

	for (int i = 0; i < RHF_MAX_CAPTURES; i++) {
		if (i >= spec->count)
			break;
		__u8 arg = spec->slot[i].arg;

		if (arg >= 6)
			break;
		const void *src = (const void *)p->ev.args[arg];

		if (!src)
			continue;
		if (spec->slot[i].kind == RHF_CAPTURE_STR) {
			off = capture_str(p, off, arg, src, 0);
		} else if (spec->slot[i].kind == RHF_CAPTURE_SOCKADDR) {
			__u8 len_arg = spec->slot[i].len_arg;

			if (len_arg >= 6)
				continue;
			/* socklen_t: the kernel reads the low 32 bits. */
			__u32 want = (__u32)p->ev.args[len_arg];

			off = capture_mem(p, off, arg, src, want, RHF_SOCKADDR_MAX);
		}
	}
	p->data_len = off;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 nr = (__u32)id;

	if (!is_traced(pid_tgid >> 32))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	/* A 32-bit call (int 0x80 from any program, or a 32-bit program): its number is an
	 * i386 one, which the x86-64 tables below would misname, and evasive code uses exactly
	 * that. It is recorded under its own ABI; --trace is applied to it in user space. */
	__u32 compat = task->thread_info.status & TS_COMPAT ? RHF_FLAG_COMPAT : 0;

	if (filter_syscalls && !compat) {
		__u8 *wanted = bpf_map_lookup_elem(&wanted_syscalls, &nr);

		/* Numbers past the table (and negative ones) are not in any selection. */
		if (!wanted || !*wanted)
			return 0;
	}
	struct pending *p =
		bpf_task_storage_get(&pending_calls, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!p) {
		count_drop(DROP_PENDING);
		return 0;
	}
	p->ev.entry_ns = bpf_ktime_get_ns();
	p->ev.nr = nr;
	p->entry_flags = compat;
	p->tail.count = 0;
	p->active = 1;
	if (compat) {
		/* The i386 convention. */
		p->ev.args[0] = (__u32)regs->bx;
		p->ev.args[1] = (__u32)regs->cx;
		p->ev.args[2] = (__u32)regs->dx;
		p->ev.args[3] = (__u32)regs->si;
		p->ev.args[4] = (__u32)regs->di;
		p->ev.args[5] = (__u32)regs->bp;
		return 0;
	}
	/* The x86-64 syscall convention: the fourth argument is in r10, not rcx. */
	p->ev.args[0] = regs->di;
	p->ev.args[1] = regs->si;
	p->ev.args[2] = regs->dx;
	p->ev.args[3] = regs->r10;
	p->ev.args[4] = regs->r8;
	p->ev.args[5] = regs->r9;
	/* An array lookup (inlined by the verifier) and a byte test: all a call without pointer
	 * arguments worth reading pays. */
	struct rhf_capture_spec *spec = bpf_map_lookup_elem(&arg_captures, &nr);

	if (spec && spec->count)
		capture_args(p, spec);
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

/* A fixed-size lifecycle record of `kind` for thread `tid` of `tgid`, timed now. */
static __always_inline void emit_lifecycle(__u16 kind, __u32 tgid, __u32 tid, __u16 flags,
					   __u64 a0, __u64 a1, __u64 a2, __u64 a3, __u64 a4)
{
	struct rhf_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count_drop(DROP_RINGBUF);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->entry_ns = bpf_ktime_get_ns();
	e->pid = tgid;
	e->tid = tid;
	e->kind = kind;
	e->flags = flags;
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = a2;
	e->args[3] = a3;
	e->args[4] = a4;
	bpf_ringbuf_submit(e, wakeup_flag(0));
}

#define CLONE_VM 0x100
#define CLONE_FS 0x200
#define CLONE_FILES 0x400
#define CLONE_SIGHAND 0x800
#define CLONE_PARENT 0x8000
#define CLONE_THREAD 0x10000

/* A traced process's children are traced: new thread groups whose parent group is. Every new
 * thread or process of a traced group is reported. The tracepoint has no clone flags: the
 * record carries the parent's call in progress (user space derives the exact flags from it,
 * as the ptrace backend does) and, for when there is none (--trace left it out), the flags
 * that can be read back from what parent and child share. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = parent->tgid;
	__u32 child_tgid = child->tgid;
	__u8 one = 1;

	if (!is_traced(parent_tgid))
		return 0;
	/* Under --system and --cgroup the map is not used: children are in scope by what they
	 * are (another process, a member of the cgroup), not by descent. */
	if (!trace_all && !trace_cgroup && child_tgid != parent_tgid &&
	    bpf_map_update_elem(&traced_tgids, &child_tgid, &one, BPF_ANY))
		count_drop(DROP_CHILD);
	__u64 flags = 0;

	if (child->mm == parent->mm)
		flags |= CLONE_VM;
	if (child->fs == parent->fs)
		flags |= CLONE_FS;
	if (child->files == parent->files)
		flags |= CLONE_FILES;
	if (child->sighand == parent->sighand)
		flags |= CLONE_SIGHAND;
	if (child->signal == parent->signal)
		flags |= CLONE_THREAD;
	else if (child->real_parent == parent->real_parent)
		flags |= CLONE_PARENT;
	if (child->exit_signal > 0)
		flags |= child->exit_signal & 0xff;
	struct pending *p = bpf_task_storage_get(&pending_calls, parent, 0, 0);
	__u64 call = 0, first_arg = 0;

	if (p && p->active) {
		call = (__u64)p->ev.nr + 1;
		first_arg = p->ev.args[0];
	}
	emit_lifecycle(RHF_KIND_SPAWN, parent_tgid, parent->pid, 0, child_tgid, child->pid, flags,
		       call, first_arg);
	return 0;
}

/* A traced process ran a new program: its filename and the new argument area (read from the
 * new mm, where exec has just copied the strings) go with the record, which wakes the reader
 * at once so that it can snapshot the process while it is young. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task->tgid;
	__u32 zero = 0;

	if (!is_traced(tgid))
		return 0;
	struct pending *r = bpf_map_lookup_elem(&exec_scratch, &zero);

	if (!r) {
		count_drop(DROP_RINGBUF);
		return 0;
	}
	__builtin_memset(&r->ev, 0, sizeof(r->ev));
	r->ev.entry_ns = bpf_ktime_get_ns();
	r->ev.pid = tgid;
	r->ev.tid = task->pid;
	r->ev.kind = RHF_KIND_EXEC;
	r->ev.args[0] = (__u32)old_pid;
	r->tail.count = 0;
	__u32 off = capture_str(r, 0, 0, BPF_CORE_READ(bprm, filename), 1);
	__u64 start = BPF_CORE_READ(task, mm, arg_start);
	__u64 end = BPF_CORE_READ(task, mm, arg_end);

	if (end > start)
		off = capture_mem(r, off, 1, (const void *)start, end - start, RHF_ARGV_MAX);
	if (capture_env) {
		/* The environment the program was given, read before it can change it: a program
		 * that exits at once leaves no /proc/PID/environ to read. */
		start = BPF_CORE_READ(task, mm, env_start);
		end = BPF_CORE_READ(task, mm, env_end);
		if (end > start)
			off = capture_mem(r, off, 2, (const void *)start, end - start, RHF_ENV_MAX);
	}
	r->data_len = off;
	submit(r, 1);
	return 0;
}

/* A thread that exits inside a call (exit_group, exit, a fatal signal) never reaches
 * sys_exit: its call is emitted as unfinished, then the thread's exit. The group stops being
 * traced when its last thread exits. */
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
	if (!is_traced(tgid))
		return 0;
	/* signal->live has already been decremented by do_exit: zero means the group is dead.
	 * Read this way rather than through the tracepoint's group_dead argument, which older
	 * kernels do not have. */
	int dead = BPF_CORE_READ(task, signal, live.counter) == 0;

	emit_lifecycle(RHF_KIND_EXIT, tgid, tid, dead ? RHF_FLAG_GROUP_DEAD : 0,
		       (__u32)task->exit_code, 0, 0, 0, 0);
	if (dead && !trace_all && !trace_cgroup)
		bpf_map_delete_elem(&traced_tgids, &tgid);
	return 0;
}
