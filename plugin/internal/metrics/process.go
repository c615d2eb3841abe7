package metrics

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// The process families describe the whole Fluent Bit process the plugin
// runs in, read from /proc/self/stat at each scrape; where there is no
// such file (not Linux) they are left out. Names and help texts are those
// of client_golang's process collector.
func processFamilies() []family {
	return []family{
		&funcGauge{
			name: "process_cpu_seconds_total",
			help: "Total user and system CPU time spent in seconds.",
			typ:  "counter",
			fn: func() (float64, bool) {
				f, ok := procStat()
				if !ok {
					return 0, false
				}
				// utime and stime (fields 14 and 15) are in clock ticks;
				// USER_HZ is 100 on every Linux (procfs assumes it too).
				ut, err1 := strconv.ParseUint(f[14-3], 10, 64)
				st, err2 := strconv.ParseUint(f[15-3], 10, 64)
				if err1 != nil || err2 != nil {
					return 0, false
				}
				return float64(ut+st) / 100, true
			},
		},
		&funcGauge{
			name: "process_resident_memory_bytes",
			help: "Resident memory size in bytes.",
			typ:  "gauge",
			fn: func() (float64, bool) {
				f, ok := procStat()
				if !ok {
					return 0, false
				}
				rss, err := strconv.ParseUint(f[24-3], 10, 64) // field 24, in pages
				if err != nil {
					return 0, false
				}
				return float64(rss) * float64(os.Getpagesize()), true
			},
		},
	}
}

// procStat returns the fields of /proc/self/stat after the command name
// (which may hold spaces and parentheses): f[0] is field 3, state.
func procStat() ([]string, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(string(b[i+1:]))
	return f, len(f) >= 24-3+1
}
