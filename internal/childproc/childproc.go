// Package childproc holds what foyer's tools need to run child processes the same way on every
// platform: a child that dies with its parent where the kernel offers it (Linux and FreeBSD's
// parent-death signal), and signals sent through the child's own process handle, never by
// name or to a group.
package childproc

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// DieWithParent asks the kernel to send sig to cmd's process when this process dies, so a
// crashed or killed parent leaves nothing behind. Call it before cmd.Start. On platforms
// without a parent-death signal (macOS, Windows) it does nothing: the parent's own shutdown
// path must stop the child there.
func DieWithParent(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setDeathSignal(cmd.SysProcAttr, sig)
}

// Signal sends sig to p. Where a platform cannot deliver sig (Windows knows only kill), p is
// killed instead. A process that already ended is not an error.
func Signal(p *os.Process, sig syscall.Signal) error {
	err := p.Signal(sig)
	if err != nil && !errors.Is(err, os.ErrProcessDone) && sig != syscall.SIGKILL {
		err = p.Kill()
	}
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// HasDeathSignal reports whether DieWithParent has an effect on this platform.
const HasDeathSignal = hasDeathSignal
