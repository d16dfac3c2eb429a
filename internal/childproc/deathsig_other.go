//go:build !linux && !freebsd

package childproc

import "syscall"

const hasDeathSignal = false

func setDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
