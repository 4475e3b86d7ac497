//go:build ignore

// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* drydock's behaviour tracer: records, for one process tree only, the
 * system calls that matter for judging a container (exec, open, connect,
 * bind, listen, set*id, capset, mount, ptrace, module loads) each with its
 * result, plus forks, execs and exits to follow the tree.
 *
 * Which syscall numbers mean what is not compiled in: user space fills the
 * sysops array (syscall number -> OP_*) for the running architecture, so
 * this file holds no syscall table. Records go to user space through one
 * ring buffer; the Go side (../ebpf_linux.go) decodes them. */

#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Operations: keep in step with the op* constants in ../syscalls_linux.go. */
enum op {
	OP_NONE = 0,
	OP_OPEN,	/* open(path, flags, mode) */
	OP_OPENAT,	/* openat(dirfd, path, flags, mode) */
	OP_OPENAT2,	/* openat2(dirfd, path, how, size) */
	OP_CREAT,	/* creat(path, mode) */
	OP_EXECVE,	/* execve(path, argv, envp) */
	OP_EXECVEAT,	/* execveat(dirfd, path, argv, envp, flags) */
	OP_CONNECT,	/* connect(fd, addr, len) */
	OP_BIND,	/* bind(fd, addr, len) */
	OP_LISTEN,	/* listen(fd, backlog) */
	OP_SETUID,	/* setuid(uid) */
	OP_SETGID,
	OP_SETREUID,	/* setreuid(r, e) */
	OP_SETREGID,
	OP_SETRESUID,	/* setresuid(r, e, s) */
	OP_SETRESGID,
	OP_SETFSUID,
	OP_SETFSGID,
	OP_CAPSET,	/* capset(hdr, data) */
	OP_MOUNT,	/* mount(src, target, fstype, flags, data) */
	OP_UMOUNT2,	/* umount2(target, flags) */
	OP_PTRACE,	/* ptrace(request, pid, addr, data) */
	OP_INIT_MODULE,	/* init_module(image, len, params) */
	OP_FINIT_MODULE,/* finit_module(fd, params, flags) */
	OP_MAX,
};

/* Record types on the ring buffer. */
enum rec {
	REC_CALL = 1,	/* a finished syscall (struct event) */
	REC_EXEC_ARGS,	/* execve/execveat arguments, read at entry (struct exec_args) */
	REC_EXEC,	/* a successful exec (struct event; aux: the former tid) */
	REC_FORK,	/* a traced process forked (struct event; aux: the child's pid) */
	REC_EXIT,	/* a traced process's last thread exited (struct event; aux: exit code) */
};

#define PATH_LEN 512
#define SA_LEN 128
#define ARGV_BUF 4096
#define ARG_LEN 1024
#define MAX_ARGS 32
#define MAX_SYSCALL 1024

struct event {
	u32 type;
	u32 op;
	u32 tid;
	u32 pid;
	u32 ppid;
	u32 uid;
	u64 ts;
	s64 ret;
	u64 args[6];
	u64 aux;
	u32 stdin_mode;
	u32 stdin_rdev;
	u16 sock_family;
	u16 sock_type;
	u32 sa_len;
	u8 sa[SA_LEN];
	char comm[16];
	char path[PATH_LEN];
};

struct exec_args {
	u32 type;
	u32 tid;
	u32 op;
	u32 argc;
	u32 len;
	char path[PATH_LEN];
	char argv[ARGV_BUF + ARG_LEN];
};

/* Referenced so that the types reach BTF and bpf2go emits them in Go. */
const struct event *unused_event __attribute__((unused));
const struct exec_args *unused_exec_args __attribute__((unused));

struct pending {
	u32 op;
	u32 pad;
	u64 args[6];
};


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SYSCALL);
	__type(key, u32);
	__type(value, u32);
} sysops SEC(".maps");

/* Processes (tgid) of the traced tree. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, u8);
} traced SEC(".maps");

/* cgroup v2 ids whose processes join the traced tree on their next
 * traced syscall (user space adds Target.CgroupPath's id when it has one). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, u64);
	__type(value, u8);
} cgroups SEC(".maps");

/* Syscalls entered and not yet returned, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* Records dropped because the ring buffer was full: [0] calls, [1] exec args. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} drops SEC(".maps");

/* Wake the reader only once this much is waiting (or for an exit): a
 * wakeup per record would cost the reader a context switch per syscall.
 * The reader also polls on a short deadline for what is left below it. */
#define WAKEUP_BYTES (256 << 10)
#define RB_NO_WAKEUP 1
#define RB_FORCE_WAKEUP 2
#define RB_AVAIL_DATA 0

static __always_inline u64 wakeup(void)
{
	return bpf_ringbuf_query(&events, RB_AVAIL_DATA) >= WAKEUP_BYTES ? RB_FORCE_WAKEUP : RB_NO_WAKEUP;
}

static __always_inline void count_drop(u32 which)
{
	u64 *n = bpf_map_lookup_elem(&drops, &which);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline bool is_compat(struct task_struct *t)
{
#if defined(__TARGET_ARCH_x86)
	/* 32-bit syscalls (int 0x80) use other numbers and registers; they
	 * are reported as such (see op_of), never decoded as 64-bit ones. */
	if (bpf_core_field_exists(t->thread_info.status))
		return BPF_CORE_READ(t, thread_info.status) & 0x0002; /* TS_COMPAT */
#endif
	return false;
}

static __always_inline bool is_traced(u32 tgid)
{
	if (bpf_map_lookup_elem(&traced, &tgid))
		return true;
	u64 cg = bpf_get_current_cgroup_id();
	if (bpf_map_lookup_elem(&cgroups, &cg)) {
		u8 one = 1;
		bpf_map_update_elem(&traced, &tgid, &one, BPF_ANY);
		return true;
	}
	return false;
}

static __always_inline struct file *fd_file(struct task_struct *t, u64 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt)
		return 0;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd >= max || fd > 1 << 20)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* The socket behind fd: family and type, and, when local is set, the
 * bound address as a sockaddr in ev->sa. */
static __always_inline void sock_info(struct event *ev, struct task_struct *t, u64 fd, bool local)
{
	struct file *f = fd_file(t, fd);
	if (!f)
		return;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return;
	struct socket *s = BPF_CORE_READ(f, private_data);
	if (!s)
		return;
	ev->sock_type = BPF_CORE_READ(s, type);
	struct sock *sk = BPF_CORE_READ(s, sk);
	if (!sk)
		return;
	u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	ev->sock_family = fam;
	if (!local)
		return;
	u16 port = BPF_CORE_READ(sk, __sk_common.skc_num);
	/* struct sockaddr_in / sockaddr_in6: family, port (big-endian), address */
	*(u16 *)&ev->sa[0] = fam;
	ev->sa[2] = port >> 8;
	ev->sa[3] = port & 0xff;
	if (fam == 2) {
		u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__builtin_memcpy(&ev->sa[4], &a, 4);
		ev->sa_len = 16;
	} else if (fam == 10) {
		BPF_CORE_READ_INTO(&ev->sa[8], sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		ev->sa_len = 28;
	}
}

static __always_inline void fill_common(struct event *ev, u32 type, struct task_struct *t)
{
	u64 pt = bpf_get_current_pid_tgid();
	ev->type = type;
	ev->tid = (u32)pt;
	ev->pid = pt >> 32;
	ev->ppid = BPF_CORE_READ(t, real_parent, tgid);
	ev->uid = (u32)bpf_get_current_uid_gid();
	ev->ts = bpf_ktime_get_ns();
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
}

static __always_inline u32 op_of(long id, struct task_struct *t)
{
	if (id < 0 || id >= MAX_SYSCALL)
		return OP_NONE;
	u32 key = id;
	u32 *op = bpf_map_lookup_elem(&sysops, &key);
	if (!op)
		return OP_NONE;
	if (*op != OP_NONE && is_compat(t))
		return OP_NONE;
	return *op;
}

static __always_inline void emit_exec_args(u32 tid, u32 op, const char *path, const char *const *argv)
{
	struct exec_args *ea = bpf_ringbuf_reserve(&events, sizeof(*ea), 0);
	if (!ea) {
		count_drop(1);
		return;
	}
	ea->type = REC_EXEC_ARGS;
	ea->tid = tid;
	ea->op = op;
	ea->argc = 0;
	ea->path[0] = 0;
	bpf_probe_read_user_str(ea->path, sizeof(ea->path), path);
	u32 off = 0;
	u32 argc = 0;
	for (int i = 0; i < MAX_ARGS; i++) {
		if (off >= ARGV_BUF)
			break;
		const char *arg = 0;
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) < 0 || !arg)
			break;
		/* Keep clang from dropping the mask the verifier needs to
		 * see the write in bounds. */
		u32 o = off;
		barrier_var(o);
		long n = bpf_probe_read_user_str(&ea->argv[o & (ARGV_BUF - 1)], ARG_LEN, arg);
		if (n <= 0)
			break;
		off += n;
		argc++;
	}
	ea->argc = argc;
	ea->len = off;
	bpf_ringbuf_submit(ea, wakeup());
}

/* The syscall's arguments from the user registers: the argument registers
 * still hold them at exit too (arm64 keeps the first in orig_x0). */
static __always_inline void syscall_args(struct pt_regs *regs, u64 *args)
{
#if defined(__TARGET_ARCH_x86)
	args[0] = BPF_CORE_READ(regs, di);
	args[1] = BPF_CORE_READ(regs, si);
	args[2] = BPF_CORE_READ(regs, dx);
	args[3] = BPF_CORE_READ(regs, r10);
	args[4] = BPF_CORE_READ(regs, r8);
	args[5] = BPF_CORE_READ(regs, r9);
#elif defined(__TARGET_ARCH_arm64)
	args[0] = BPF_CORE_READ(regs, orig_x0);
	args[1] = BPF_CORE_READ(regs, regs[1]);
	args[2] = BPF_CORE_READ(regs, regs[2]);
	args[3] = BPF_CORE_READ(regs, regs[3]);
	args[4] = BPF_CORE_READ(regs, regs[4]);
	args[5] = BPF_CORE_READ(regs, regs[5]);
#endif
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *t = bpf_get_current_task_btf();
	u32 op = op_of(id, t);
	if (op == OP_NONE)
		return 0;
	u64 pt = bpf_get_current_pid_tgid();
	u32 tid = (u32)pt;
	if (!is_traced(pt >> 32))
		return 0;
	struct pending p = { .op = op };
	syscall_args(regs, p.args);
	/* The arguments of an exec must be read now: a successful exec
	 * replaces the memory they live in. */
	if (op == OP_EXECVE)
		emit_exec_args(tid, op, (const char *)p.args[0], (const char *const *)p.args[1]);
	else if (op == OP_EXECVEAT)
		emit_exec_args(tid, op, (const char *)p.args[1], (const char *const *)p.args[2]);
	bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *t = bpf_get_current_task_btf();
#if defined(__TARGET_ARCH_x86)
	long id = BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	long id = BPF_CORE_READ(regs, syscallno);
#endif
	u64 pt = bpf_get_current_pid_tgid();
	u32 tid = (u32)pt;
	/* A successful exec's exit is reported by sched_process_exec; its
	 * pending entry is removed there. Filter cheaply by number first. */
	u32 op0 = op_of(id, t);
	if (op0 == OP_NONE)
		return 0;
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);
	struct pending inflight = {};
	if (!p) {
		/* A call already in progress when tracing began (the target
		 * blocked in a syscall when it was attached): its arguments are
		 * still in the registers. Not an exec, whose memory is gone. */
		if (op0 == OP_EXECVE || op0 == OP_EXECVEAT || !bpf_map_lookup_elem(&traced, &(u32){pt >> 32}))
			return 0;
		inflight.op = op0;
		syscall_args(regs, inflight.args);
		p = &inflight;
	}
	u32 op = p->op;
	if ((op == OP_EXECVE || op == OP_EXECVEAT) && ret == 0) {
		bpf_map_delete_elem(&pending, &tid);
		return 0;
	}
	struct event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_drop(0);
		bpf_map_delete_elem(&pending, &tid);
		return 0;
	}
	__builtin_memset(ev, 0, sizeof(*ev) - PATH_LEN);
	ev->path[0] = 0;
	fill_common(ev, REC_CALL, t);
	ev->op = op;
	ev->ret = ret;
	for (int i = 0; i < 6; i++)
		ev->args[i] = p->args[i];
	const char *path = 0;
	switch (op) {
	case OP_OPEN:
	case OP_CREAT:
	case OP_UMOUNT2:
		path = (const char *)p->args[0];
		break;
	case OP_OPENAT:
	case OP_MOUNT:
		path = (const char *)p->args[1];
		break;
	case OP_OPENAT2:
		path = (const char *)p->args[1];
		bpf_probe_read_user(&ev->aux, sizeof(ev->aux), (void *)p->args[2]);
		break;
	case OP_CONNECT:
	case OP_BIND: {
		u32 n = p->args[2] > SA_LEN ? SA_LEN : p->args[2];
		barrier_var(n);
		if (n > 0 && n <= SA_LEN && bpf_probe_read_user(ev->sa, n, (void *)p->args[1]) == 0)
			ev->sa_len = n;
		sock_info(ev, t, p->args[0], false);
		break;
	}
	case OP_LISTEN:
		sock_info(ev, t, p->args[0], true);
		break;
	case OP_CAPSET: {
		u32 eff[2] = {};
		/* struct __user_cap_data_struct[2]: effective at 0 and 12 */
		if (p->args[1]) {
			bpf_probe_read_user(&eff[0], 4, (void *)p->args[1]);
			bpf_probe_read_user(&eff[1], 4, (void *)(p->args[1] + 12));
		}
		ev->aux = (u64)eff[0] | ((u64)eff[1] << 32);
		break;
	}
	}
	if (path)
		bpf_probe_read_user_str(ev->path, sizeof(ev->path), path);
	bpf_map_delete_elem(&pending, &tid);
	bpf_ringbuf_submit(ev, wakeup());
	return 0;
}

static __always_inline struct event *reserve_task_event(u32 type, struct task_struct *t)
{
	struct event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_drop(0);
		return 0;
	}
	__builtin_memset(ev, 0, sizeof(*ev) - PATH_LEN);
	ev->path[0] = 0;
	fill_common(ev, type, t);
	return ev;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	u32 ptgid = BPF_CORE_READ(parent, tgid);
	if (!bpf_map_lookup_elem(&traced, &ptgid))
		return 0;
	u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ctgid == ptgid)
		return 0; /* a new thread of a traced process */
	u8 one = 1;
	bpf_map_update_elem(&traced, &ctgid, &one, BPF_ANY);
	struct event *ev = reserve_task_event(REC_FORK, bpf_get_current_task_btf());
	if (!ev)
		return 0;
	ev->aux = ctgid;
	bpf_ringbuf_submit(ev, wakeup());
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	u32 tgid = BPF_CORE_READ(p, tgid);
	if (!bpf_map_lookup_elem(&traced, &tgid))
		return 0;
	u32 old = old_pid;
	bpf_map_delete_elem(&pending, &old);
	struct task_struct *t = bpf_get_current_task_btf();
	struct event *ev = reserve_task_event(REC_EXEC, t);
	if (!ev)
		return 0;
	ev->aux = old;
	struct file *f = fd_file(t, 0);
	if (f) {
		ev->stdin_mode = BPF_CORE_READ(f, f_inode, i_mode);
		ev->stdin_rdev = BPF_CORE_READ(f, f_inode, i_rdev);
	}
	bpf_ringbuf_submit(ev, wakeup());
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	u32 tgid = BPF_CORE_READ(p, tgid);
	u32 tid = BPF_CORE_READ(p, pid);
	bpf_map_delete_elem(&pending, &tid);
	if (!bpf_map_lookup_elem(&traced, &tgid))
		return 0;
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0; /* other threads of the process live on */
	bpf_map_delete_elem(&traced, &tgid);
	struct event *ev = reserve_task_event(REC_EXIT, p);
	if (!ev)
		return 0;
	ev->aux = (u32)BPF_CORE_READ(p, exit_code);
	bpf_ringbuf_submit(ev, RB_FORCE_WAKEUP);
	return 0;
}
