package channel

import (
	"net/http"
	"path"
	"strings"
)

// receivedExtTypes are the content types of the files clients send on WhatsApp
// (Meta's supported media types) and a few more they try, by extension.
// A table of Parley's own, not the system's mime.types, so that a file's
// type does not depend on the machine.
var receivedExtTypes = map[string]string{
	".pdf": "application/pdf", ".txt": "text/plain", ".csv": "text/csv",
	".doc": "application/msword", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls": "application/vnd.ms-excel", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".ppt": "application/vnd.ms-powerpoint", ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".gif": "image/gif", ".heic": "image/heic",
	".mp4": "video/mp4", ".3gp": "video/3gpp", ".mov": "video/quicktime",
	".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/ogg", ".aac": "audio/aac", ".amr": "audio/amr", ".m4a": "audio/mp4",
	".vcf": "text/vcard", ".zip": "application/zip",
}

// receivedTypeExts are the extensions files of a content type are named with.
var receivedTypeExts = map[string]string{
	"application/pdf": ".pdf", "text/plain": ".txt", "text/csv": ".csv",
	"application/msword": ".doc", "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
	"application/vnd.ms-excel": ".xls", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
	"application/vnd.ms-powerpoint": ".ppt", "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif", "image/heic": ".heic",
	"video/mp4": ".mp4", "video/3gpp": ".3gp", "video/quicktime": ".mov",
	"audio/mpeg": ".mp3", "audio/ogg": ".ogg", "audio/aac": ".aac", "audio/amr": ".amr", "audio/mp4": ".m4a",
	"text/vcard": ".vcf", "text/x-vcard": ".vcf", "application/zip": ".zip",
}

// TypeOfName is the content type a file name's extension says, or "".
func TypeOfName(name string) string {
	return receivedExtTypes[strings.ToLower(path.Ext(name))]
}

// ExtOfType is the extension files of a content type carry, or "".
func ExtOfType(contentType string) string {
	return receivedTypeExts[BareType(contentType)]
}

// BareType is a content type without its parameters, lower case.
func BareType(contentType string) string {
	return strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
}

// FileType settles a received file's name and content type from what the
// provider said (declared, name) and the file's bytes: a declared type
// that says nothing (none, octet-stream) gives way to the name's
// extension and then to the bytes' signature; a file without a name is
// named "file" with its type's extension (never "file.bin" when the
// provider named it).
func FileType(declared, name string, data []byte) (contentType, filename string) {
	contentType = BareType(declared)
	if contentType == "" || contentType == "application/octet-stream" || contentType == "binary/octet-stream" {
		contentType = TypeOfName(name)
	}
	if contentType == "" && len(data) > 0 {
		if sniffed := BareType(http.DetectContentType(data)); sniffed != "application/octet-stream" {
			contentType = sniffed
			if contentType == "text/plain" && strings.HasPrefix(strings.TrimSpace(string(data[:min(len(data), 64)])), "BEGIN:VCARD") {
				contentType = "text/vcard"
			}
		}
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	filename = strings.TrimSpace(name)
	if filename == "" {
		ext := ExtOfType(contentType)
		if ext == "" {
			ext = ".bin"
		}
		filename = "file" + ext
	}
	return contentType, filename
}
