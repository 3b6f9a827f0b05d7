package whatsapp

import (
	"strings"
	"unicode/utf8"
)

// Clean makes text from Meta storable: NUL characters (which neither PostgreSQL nor SQLite
// keep in text) and bytes that are not UTF-8 become U+FFFD. A customer's message has been sent
// already and cannot be refused, so it is kept with the replacement shown.
func Clean(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == 0 {
			return utf8.RuneError
		}
		return r
	}, s)
}

// Content is what Parley stores of an inbound message: its text, and its WhatsApp type as the
// content type. Text, the title of an interactive reply (button or list), the text of a
// template button tap and the caption of an image, video or document are content. Any other
// type (audio, sticker, location, reaction, "unsupported", types Meta adds later) is stored
// with an empty content and its type, which the dashboard shows as "unsupported message (type)".
func Content(m *Message) (content, contentType string) {
	content, contentType = content1(m)
	return Clean(content), contentType
}

func content1(m *Message) (content, contentType string) {
	typ := strings.TrimSpace(m.Type)
	if typ == "" {
		typ = "unknown"
	}
	switch typ {
	case "text":
		if m.Text != nil {
			return m.Text.Body, "text"
		}
	case "interactive":
		if in := m.Interactive; in != nil {
			if in.ButtonReply != nil && in.ButtonReply.Title != "" {
				return in.ButtonReply.Title, typ
			}
			if in.ListReply != nil && in.ListReply.Title != "" {
				return in.ListReply.Title, typ
			}
		}
	case "button":
		if m.Button != nil && m.Button.Text != "" {
			return m.Button.Text, typ
		}
	case "image", "video", "document":
		var md *Media
		switch typ {
		case "image":
			md = m.Image
		case "video":
			md = m.Video
		default:
			md = m.Document
		}
		if md != nil && md.Caption != "" {
			return md.Caption, typ
		}
	}
	return "", typ
}
