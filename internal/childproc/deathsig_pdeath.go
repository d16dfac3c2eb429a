//go:build linux || freebsd

package childproc

import "syscall"

const hasDeathSignal = true

func setDeathSignal(a *syscall.SysProcAttr, sig syscall.Signal) { a.Pdeathsig = sig }
