package dashboard

import "testing"

// ?next= after login goes only to a path on this site: whatever a browser would read as
// another host falls back to the conversations.
func TestSafeNextKeepsUsersOnThisSite(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/conversations/42", "/conversations/42"},
		{"/conversations?type=whatsapp&q=a%20b", "/conversations?type=whatsapp&q=a%20b"},
		{"/analytics#top", "/analytics#top"},
		{"", "/conversations"},
		{"conversations", "/conversations"},
		{"https://evil.example/", "/conversations"},
		{"//evil.example", "/conversations"},
		{"/\\evil.example", "/conversations"},
		{"/\\/evil.example", "/conversations"},
		{"\\\\evil.example", "/conversations"},
		{"/\t/evil.example", "/conversations"},
		{"/\n/evil.example", "/conversations"},
		{"/%09/evil.example", "/conversations"},
		{"/%2F/evil.example", "/conversations"},
		{"/%5Cevil.example", "/conversations"},
		{"/%5C%5Cevil.example", "/conversations"},
		{" //evil.example", "/conversations"},
		{"/ /evil.example", "/conversations"},
		{"javascript:alert(1)", "/conversations"},
		{"/%zz", "/conversations"},
	} {
		if got := safeNext(tc.next); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}
