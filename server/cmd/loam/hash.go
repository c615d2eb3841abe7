package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/loam-logs/loam/server/auth"
)

// hashCommands are the subcommands that make the secrets of an auth file:
// each reads one line on stdin and prints what the file holds.
var hashCommands = map[string]func(string) (string, error){
	"hash-password": auth.HashPassword, // password_bcrypt
	"hash-token":    auth.HashToken,    // token_sha256
}

// runHash reads one line from in (its line ending trimmed, nothing else:
// spaces are part of a password) and prints its hash; the exit code.
func runHash(name string, hash func(string) (string, error), args []string, in io.Reader, out, errOut io.Writer) int {
	if len(args) > 0 {
		what := "password"
		if name == "hash-token" {
			what = "token"
		}
		fmt.Fprintf(errOut, "usage: loam %s < file\n  reads a %s on stdin (one line) and prints the value for the auth file (-auth.file)\n", name, what)
		if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
			return 0
		}
		return 2
	}
	line, err := bufio.NewReader(io.LimitReader(in, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(errOut, "loam %s: read stdin: %v\n", name, err)
		return 1
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	h, err := hash(line)
	if err != nil {
		fmt.Fprintf(errOut, "loam %s: %v\n", name, err)
		return 1
	}
	fmt.Fprintln(out, h)
	return 0
}
