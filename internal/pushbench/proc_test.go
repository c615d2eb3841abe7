package main

import (
	"os"
	"testing"
)

func TestParseProc(t *testing.T) {
	stat := "4242 (lo am) (x)) S 1 4242 4242 0 -1 4194560 9717 0 0 0 1234 567 0 0 20 0 12 0 3086 1592401920 17421 18446744073709551615\n"
	status := "Name:\tloam\nVmPeak:\t 1555088 kB\nVmHWM:\t   70000 kB\nVmRSS:\t   69684 kB\nThreads:\t12\n"
	p, err := parseProc([]byte(stat), []byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if p.CPU != 18.01 || p.RSS != 69684<<10 || p.HWM != 70000<<10 {
		t.Errorf("parseProc = %+v", p)
	}
	for _, bad := range [][2]string{
		{"4242 loam S", status},
		{"4242 (loam) S 1 2", status},
		{"4242 (loam) S 1 4242 4242 0 -1 4194560 9717 0 0 0 x 567", status},
		{stat, "VmRSS:\t many kB\n"},
	} {
		if p, err := parseProc([]byte(bad[0]), []byte(bad[1])); err == nil {
			t.Errorf("parseProc(%q, %q) = %+v, want an error", bad[0], bad[1], p)
		}
	}
}

func TestReadProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.RSS <= 0 || p.HWM < p.RSS {
		t.Errorf("readProc(self) = %+v", p)
	}
}
