package config

import (
	"os"
	"strings"
	"testing"
)

// The README's configuration table names every variable Parley reads.
func TestREADMEListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(b), "`"+v.Name+"`") {
			t.Errorf("README.md does not list `%s`", v.Name)
		}
	}
}
