//go:build !unix

package main

// lowerPriority is a no-op where there is no niceness.
func lowerPriority(int) {}
