package pages

import (
	"net/url"
	"regexp"
	"time"

	"github.com/a-h/templ"
)

// ReviewView is the review of a conversation on its page (issue 14 items 4 and 6): status,
// assignee, tags, notes, and the neighbours of the list it was opened from (keyboard review).
type ReviewView struct {
	ConvID       int64
	CSRF         string
	CanEdit      bool // agents and up; viewers see without forms
	Status       string
	StatusLabel  string
	ReviewedBy   string
	ReviewedAt   *time.Time
	AssigneeID   int64
	AssigneeName string
	Members      []Option // value: user id
	Statuses     []Option // value: status, label: the button's
	Tags         []TagView
	AllTags      []string // the workspace's tag names, for the input's suggestions
	Notes        []NoteView
	Error        string
	// PrevURL and NextURL are the neighbours in the list of From ("" at an end, or without a list).
	PrevURL, NextURL string
	From             string
}

// TagView is a tag chip.
type TagView struct {
	ID          int64
	Name, Color string
}

// NoteView is one internal note.
type NoteView struct {
	ID        int64
	Text      string
	Author    string
	At        time.Time
	MessageID int64
}

// TagsData is the Settings page of the workspace's tags.
type TagsData struct {
	CSRF   string
	Tags   []TagView
	Colors []string
	Error  string
	// Name and Color keep a refused new tag's form.
	Name, Color string
}

var hexColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// tagStyle colours a chip with a #rrggbb colour (palette names are classes: tag-red...).
func tagStyle(color string) templ.SafeCSS {
	if hexColor.MatchString(color) {
		return templ.SafeCSS("background:" + color + ";color:#fff;")
	}
	return ""
}

// tagClass is the chip's class of a palette colour.
func tagClass(color string) string {
	if hexColor.MatchString(color) || color == "" {
		return "tag"
	}
	return "tag tag-" + color
}

// convLink is a conversation's link from a list: the list's query travels with it (?from=),
// so that the page finds its neighbours (j/k); the whole list's is empty.
func convLink(id int64, from string) string {
	return convURL(id) + "?from=" + url.QueryEscape(from)
}
