package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment of the child process run by TestCrashSIGKILL.
const (
	crashDirEnv    = "LOAM_WAL_CRASH_DIR"
	crashPolicyEnv = "LOAM_WAL_CRASH_POLICY"
	crashRoundEnv  = "LOAM_WAL_CRASH_ROUND"
)

const crashWriters = 4

// crashPayload is the record with the given id: the id, then filler whose
// length and bytes derive from it, so the replay can check the contents.
func crashPayload(id string) []byte {
	n := 0
	for _, c := range id {
		n = n*31 + int(c)
	}
	n %= 3000
	p := append([]byte(id), ';')
	for i := range n {
		p = append(p, byte(n+i))
	}
	return p
}

// TestCrashChild is not a test of its own: it is the body of the child
// process that TestCrashSIGKILL starts and kills. It appends records forever,
// printing the id of each one after Append acknowledged it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrashSIGKILL")
	}
	policy, err := ParseSyncPolicy(os.Getenv(crashPolicyEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	round := os.Getenv(crashRoundEnv)
	w, err := Open(dir, Options{SegmentSize: 256 << 10, SyncPolicy: policy, SyncInterval: 10 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	for g := range crashWriters {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s.%d.%d", round, g, i)
				var err error
				if i%7 == 3 {
					err = w.AppendBatch(crashPayload(id), crashPayload(id+"b"))
				} else {
					err = w.Append(crashPayload(id))
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(out, "ack %s\n", id)
				out.Flush() // the parent must see each ack before we go on
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Minute) // the parent kills us long before this
	os.Exit(3)
}

// TestCrashSIGKILL runs a child process that appends records and reports each
// acknowledged one, SIGKILLs it mid-stream, and checks that replay returns
// every acknowledged record. Each policy runs several rounds in one directory,
// so later children open a WAL whose last segment may be torn.
func TestCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := t.TempDir()
			acked := map[string]bool{}
			for round := range 3 {
				minAcks := 2000
				if policy == SyncAlways {
					minAcks = 600 // an fsync per group of acks: slower
				}
				ids := runCrashChild(t, dir, policy, round, minAcks)
				for _, id := range ids {
					acked[id] = true
				}
				// Replay after each crash, as the server would.
				seen := map[string]bool{}
				_, st := replayAll(t, dir, Options{})
				_, err := Replay(dir, Options{}, func(p []byte) error {
					id, _, ok := bytes.Cut(p, []byte(";"))
					if !ok || !bytes.Equal(p, crashPayload(string(id))) {
						t.Fatalf("replayed a damaged record %.40q", p)
					}
					seen[string(id)] = true
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				missing := 0
				for id := range acked {
					if !seen[id] {
						missing++
						if missing < 5 {
							t.Errorf("acknowledged record %s not replayed", id)
						}
					}
				}
				if missing > 0 {
					t.Fatalf("round %d: %d of %d acknowledged records lost", round, missing, len(acked))
				}
				t.Logf("round %d: %d acknowledged in total, %d replayed, %d segments, %d corruptions truncated",
					round, len(acked), len(seen), st.Segments, st.Corruptions)
			}
		})
	}
}

// runCrashChild starts the child, SIGKILLs it once it has acknowledged at
// least minAcks records, and returns the ids of all records it acknowledged.
func runCrashChild(t *testing.T, dir string, policy SyncPolicy, round, minAcks int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		crashDirEnv+"="+dir,
		crashPolicyEnv+"="+policy.String(),
		crashRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	killed := false
	timeout := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer timeout.Stop()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		id, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		ids = append(ids, id)
		if !killed && len(ids) >= minAcks {
			// Kill while the writers are busy; the acks already in the
			// pipe are read below and count as acknowledged too.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before being killed: %v\nstderr: %s", err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\nstderr: %s", err, stderr.String())
	}
	return ids
}
