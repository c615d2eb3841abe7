package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procStats is what /proc tells of a process.
type procStats struct {
	CPU      float64 // user + system seconds so far
	RSS, HWM int64   // resident and peak resident bytes
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// readProc reads /proc/<pid>/stat and /proc/<pid>/status.
func readProc(pid int) (procStats, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStats{}, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStats{}, err
	}
	return parseProc(stat, status)
}

// parseProc reads utime and stime (fields 14 and 15; the command name in
// field 2 may hold spaces and parentheses, so fields are counted from its
// closing parenthesis) and VmRSS and VmHWM.
func parseProc(stat, status []byte) (procStats, error) {
	var p procStats
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return p, errors.New("stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return p, errors.New("stat: too few fields")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return p, fmt.Errorf("stat: utime %q stime %q", f[11], f[12])
	}
	p.CPU = float64(utime+stime) / clockTicks
	for _, l := range strings.Split(string(status), "\n") {
		name, v, ok := strings.Cut(l, ":")
		if !ok || name != "VmRSS" && name != "VmHWM" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return p, fmt.Errorf("status: %s: %q", name, v)
		}
		if name == "VmRSS" {
			p.RSS = kb << 10
		} else {
			p.HWM = kb << 10
		}
	}
	return p, nil
}
