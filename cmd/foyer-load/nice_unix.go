//go:build unix

package main

import "syscall"

// lowerPriority runs this process at the given niceness (best effort).
func lowerPriority(nice int) { _ = syscall.Setpriority(syscall.PRIO_PROCESS, 0, nice) }
