package sse

import "testing"

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Opening one stream past the limit ends the key's oldest; other keys are untouched; a
// released stream frees its place.
func TestCapEndsTheOldest(t *testing.T) {
	var c Cap
	var ended []<-chan struct{}
	var releases []func()
	for i := 0; i < 3; i++ {
		e, r := c.Open("u1", 3)
		ended, releases = append(ended, e), append(releases, r)
	}
	other, _ := c.Open("u2", 3)
	for i, e := range ended {
		if closed(e) {
			t.Fatalf("stream %d ended within the limit", i)
		}
	}
	e4, _ := c.Open("u1", 3)
	if !closed(ended[0]) || closed(ended[1]) || closed(ended[2]) || closed(e4) || closed(other) {
		t.Fatal("the fourth stream ends the first one only")
	}
	releases[0]() // releasing an ended stream is harmless
	releases[1]()
	e5, _ := c.Open("u1", 3)
	if closed(ended[2]) || closed(e4) || closed(e5) {
		t.Fatal("a released stream frees its place")
	}
	e6, _ := c.Open("u1", 3)
	if !closed(ended[2]) || closed(e6) {
		t.Fatal("past the limit again, the oldest open one ends")
	}
}
