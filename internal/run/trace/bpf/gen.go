// Package bpf holds drydock's compiled eBPF tracing programs (trace.bpf.c)
// and the Go bindings bpf2go generated for them. The objects are
// committed, so building drydock needs no C compiler; CO-RE relocations
// are resolved against the running kernel's BTF when the programs load.
//
// To regenerate after editing trace.bpf.c or vmlinux_min.h (needs clang,
// llvm and libbpf-dev, all from Debian):
//
//	go generate ./internal/run/trace/bpf
package bpf

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go@v0.22.0 -cc clang -no-strip -target amd64,arm64 -type event -type exec_args Trace trace.bpf.c -- -I. -O2 -g -Wall -Werror
