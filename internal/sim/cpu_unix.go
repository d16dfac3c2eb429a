//go:build unix

package sim

import "syscall"

// processCPU is this process's CPU time so far, in seconds.
func processCPU() cpuTimes {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return cpuTimes{}
	}
	sec := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	return cpuTimes{user: sec(ru.Utime), sys: sec(ru.Stime)}
}
