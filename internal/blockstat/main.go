// Command blockstat prints where the bytes of block files go: lines,
// timestamps, filters, index. A development aid for the block format.
package main

import (
	"fmt"
	"os"

	"github.com/loam-logs/loam/server/block"
)

func main() {
	var lines, ts, filters, raw, total, chunks, entries int64
	for _, p := range os.Args[1:] {
		r, err := block.Open(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		total += r.Size()
		it := r.Iter()
		for it.Next() {
			for _, c := range it.At().Chunks {
				chunks++
				entries += int64(c.Count)
				lines += int64(c.LinesLen)
				ts += int64(c.TsLen)
				filters += int64(c.FilterLen)
				raw += int64(c.RawBytes)
			}
		}
		if err := it.Err(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		r.Close()
	}
	pct := func(v int64) string { return fmt.Sprintf("%9d (%4.1f%%)", v, 100*float64(v)/float64(total)) }
	fmt.Printf("blocks %d chunks %d entries %d raw %d total %d ratio %.2fx\n", len(os.Args)-1, chunks, entries, raw, total, float64(raw)/float64(total))
	fmt.Printf("lines   %s  %.2fx of raw\n", pct(lines), float64(raw)/float64(lines))
	fmt.Printf("ts      %s  %.1f bits/entry\n", pct(ts), 8*float64(ts)/float64(entries))
	fmt.Printf("filters %s  %.1f%% of raw\n", pct(filters), 100*float64(filters)/float64(raw))
	fmt.Printf("other   %s\n", pct(total-lines-ts-filters))
}
