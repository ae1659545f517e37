package channel_test

import (
	"net/http"
	"reflect"
	"testing"

	"parley/internal/channel"
)

func TestParseVCards(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       []channel.Contact
	}{
		{"WhatsApp 3.0 card with waid and item labels",
			"BEGIN:VCARD\r\nVERSION:3.0\r\nN:Pérez;Juan;;;\r\nFN:Juan Pérez\r\nitem1.TEL;waid=573105556677:+57 310 5556677\r\nitem1.X-ABLabel:Móvil\r\nEMAIL;type=INTERNET:juan@example.co\r\nORG:Acme;Ventas\r\nEND:VCARD\r\n",
			[]channel.Contact{{Name: "Juan Pérez", Phones: []string{"+57 310 5556677"}, Emails: []string{"juan@example.co"}, Org: "Acme, Ventas"}}},
		{"no FN: the name from N; folded line; tel: URI (4.0)",
			"BEGIN:VCARD\nVERSION:4.0\nN:Santoso;Budi;;Dr.;\nTEL;VALUE=uri:tel:+62-812-\n 3456-7890\nEND:VCARD",
			[]channel.Contact{{Name: "Dr. Budi Santoso", Phones: []string{"+62-812-3456-7890"}}}},
		{"two cards", "BEGIN:VCARD\nFN:A\nTEL:1\nEND:VCARD\nBEGIN:VCARD\nFN:B\nEND:VCARD",
			[]channel.Contact{{Name: "A", Phones: []string{"1"}}, {Name: "B"}}},
		{"not a card", "hello", nil},
		{"an empty card", "BEGIN:VCARD\nVERSION:3.0\nEND:VCARD", nil},
	} {
		if got := channel.ParseVCards(tt.text); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestFileType(t *testing.T) {
	for _, tt := range []struct {
		declared, name string
		data           string
		wantType       string
		wantName       string
	}{
		{"image/jpeg", "", "\xff\xd8\xff", "image/jpeg", "file.jpg"},
		{"application/octet-stream", "Factura.pdf", "%PDF-1.4", "application/pdf", "Factura.pdf"},
		{"application/octet-stream", "", "%PDF-1.4", "application/pdf", "file.pdf"},
		{"", "Contrato.docx", "PK\x03\x04", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Contrato.docx"},
		{"", "", "BEGIN:VCARD\r\nFN:A\r\nEND:VCARD", "text/vcard", "file.vcf"},
		{"audio/ogg; codecs=opus", "", "OggS", "audio/ogg", "file.ogg"},
		{"", "notes.xyz", "\x00\x01\x02", "application/octet-stream", "notes.xyz"},
		{"", "", "\x00\x01\x02", "application/octet-stream", "file.bin"},
	} {
		ct, name := channel.FileType(tt.declared, tt.name, []byte(tt.data))
		if ct != tt.wantType || name != tt.wantName {
			t.Errorf("FileType(%q, %q) = %q %q, want %q %q", tt.declared, tt.name, ct, name, tt.wantType, tt.wantName)
		}
	}
}

func TestDispositionFilename(t *testing.T) {
	for in, want := range map[string]string{
		`attachment; filename="Invoice 4411.pdf"`:       "Invoice 4411.pdf",
		`inline; filename*=UTF-8''Fa%C3%A7tura%201.pdf`: "Façtura 1.pdf",
		`attachment; filename="../../etc/passwd"`:       "passwd",
		`attachment`: "",
		``:           "",
	} {
		if got := channel.DispositionFilename(http.Header{"Content-Disposition": {in}}); got != want {
			t.Errorf("DispositionFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsUserID(t *testing.T) {
	for s, want := range map[string]bool{
		"US.13491208655302741918": true, "US.ENT.11815799212886844830": true, "IN.2081abc": true,
		"+15551234567": false, "us.123": false, "US.": false, "US.12 3": false, "USA.123": false,
	} {
		if got := channel.IsUserID(s); got != want {
			t.Errorf("IsUserID(%q) = %v", s, got)
		}
	}
}
