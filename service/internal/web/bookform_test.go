package web_test

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// part is one part of a multipart body, in the order given.
type part struct {
	name, file string           // file is the file name of a file part, "" for a field
	data       func() io.Reader // a fresh reader of the content for each use
}

func field(name, value string) part {
	return part{name: name, data: func() io.Reader { return strings.NewReader(value) }}
}

// coverPart is a PNG of n bytes: a real PNG header padded with zeros.
func coverPart(n int) part {
	return part{name: "cover", file: "big.png", data: func() io.Reader {
		return io.MultiReader(bytes.NewReader(png1x1), io.LimitReader(zeros{}, int64(n-len(png1x1))))
	}}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// multipartParts posts parts in order, streaming the body.
func (c *client) multipartParts(path string, parts ...part) resp {
	c.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, p := range parts {
			var w io.Writer
			var err error
			if p.file != "" {
				w, err = mw.CreateFormFile(p.name, p.file)
			} else {
				w, err = mw.CreateFormField(p.name)
			}
			if err == nil {
				_, err = io.Copy(w, p.data())
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// coverFiles lists every file under SHARED_DIR/covers, temporary ones too.
func (e *env) coverFiles() []string {
	entries, _ := os.ReadDir(filepath.Join(e.shared, "covers"))
	var names []string
	for _, d := range entries {
		names = append(names, d.Name())
	}
	return names
}

// A cover over the limit gets a 413 with the form as the user filled it:
// every other field keeps its value, whatever the order of the parts and
// however far over the limit the cover is, and nothing is written.
func TestOversizedCoverKeepsTheForm(t *testing.T) {
	e := newEnv(t, 1, nil) // the default 2 MB cap
	seller, sid := e.user(0, "seller@example.com")
	book := e.book(sid, "Original", bookIn(500, 2))
	before, beforeFiles := e.snapshot(), e.coverFiles()

	fields := []part{}
	values := map[string]string{"title": "Kept <title>", "author": "Kept Author", "description": "Kept\ndescription", "price": "12.34", "stock": "7"}
	for _, k := range []string{"title", "author", "description", "price", "stock"} {
		fields = append(fields, field(k, values[k]))
	}
	const limit = 2 << 20
	for _, size := range []int{limit + 1, 3 << 20, 10 << 20, 30 << 20} {
		for _, order := range []string{"cover last", "cover first", "cover in the middle"} {
			for _, path := range []string{"/book/add_book", fmt.Sprintf("/book/edit_book/%d", book)} {
				var parts []part
				switch order {
				case "cover last":
					parts = append(append(parts, fields...), coverPart(size))
				case "cover first":
					parts = append(append(parts, coverPart(size)), fields...)
				default:
					parts = append(append(append(parts, fields[:2]...), coverPart(size)), fields[2:]...)
				}
				name := fmt.Sprintf("%s, %d-byte cover, %s", path, size, order)
				r := seller.multipartParts(path, parts...)
				body := html.UnescapeString(r.body)
				if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "The cover may be at most 2 MB; this one is larger.") {
					t.Errorf("%s: %d, want 413 with the cover's message: %s", name, r.status, snippet(r.body))
				}
				for _, k := range []string{"title", "author", "price", "stock"} {
					if !strings.Contains(body, `value="`+values[k]+`"`) {
						t.Errorf("%s: %s lost: %s", name, k, snippet(r.body))
					}
				}
				if !strings.Contains(body, ">"+values["description"]+"</textarea>") {
					t.Errorf("%s: description lost: %s", name, snippet(r.body))
				}
				if strings.Contains(body, "This field is required") {
					t.Errorf("%s: a field sent was reported missing", name)
				}
			}
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("the database changed: %s -> %s", before, after)
	}
	if after := e.coverFiles(); fmt.Sprint(after) != fmt.Sprint(beforeFiles) {
		t.Fatalf("cover files changed: %v -> %v", beforeFiles, after)
	}
	if n := e.count("SELECT COUNT(*) FROM books WHERE title = 'Original' AND stock = 2"); n != 1 {
		t.Fatal("the edited book changed")
	}

	// Other fields still get checked next to the cover's message.
	r := seller.multipartParts("/book/add_book", coverPart(3<<20), field("title", ""), field("price", "-1"))
	if body := html.UnescapeString(r.body); r.status != http.StatusRequestEntityTooLarge ||
		!strings.Contains(body, "This field is required") || !strings.Contains(body, "must not be negative") {
		t.Errorf("oversized cover and bad fields: %d %s", r.status, snippet(r.body))
	}
}

// A body over the whole form's cap is not read to the end: the fields sent
// before the cut come back with a 413, and nothing is written.
func TestBookFormOverTheHardCap(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, _ := e.user(0, "seller@example.com")
	before := e.snapshot()
	r := seller.multipartParts("/book/add_book", field("title", "Before the cut"), field("price", "1.00"),
		coverPart(40<<20), field("author", "After the cut"), field("stock", "1"))
	body := html.UnescapeString(r.body)
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than 32 MB and was not read to the end") {
		t.Fatalf("%d: %s", r.status, snippet(r.body))
	}
	if !strings.Contains(body, `value="Before the cut"`) || !strings.Contains(body, `value="1.00"`) || strings.Contains(body, "This field is required") {
		t.Fatalf("fields before the cut lost, or those after it called missing: %s", snippet(r.body))
	}
	if after := e.snapshot(); after != before || len(e.coverFiles()) != 0 {
		t.Fatalf("something was written: %s -> %s, covers %v", before, after, e.coverFiles())
	}
}

// A cover at the limit is taken, whatever the order of the parts; a second
// cover part is ignored, and so are unknown fields.
func TestCoverAtTheLimitIsSaved(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, _ := e.user(0, "seller@example.com")
	r := seller.multipartParts("/book/add_book", coverPart(2<<20), field("title", "At the limit"), field("author", "A"),
		field("price", "1.00"), field("stock", "1"), field("unknown", strings.Repeat("u", 100<<10)), coverPart(3<<20))
	if r.status != http.StatusSeeOther {
		t.Fatalf("%d %s", r.status, snippet(r.body))
	}
	var cover string
	if err := e.sql.QueryRow("SELECT cover FROM books WHERE title = 'At the limit'").Scan(&cover); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(e.shared, "covers", cover))
	if err != nil || st.Size() != 2<<20 {
		t.Fatalf("saved cover: %v %v", st, err)
	}
}

// A text field over its cap is refused as too long, not as invalid, even
// when the cut would fall inside a multi-byte character.
func TestHugeTextFieldIsTooLong(t *testing.T) {
	e := newEnv(t, 1, nil)
	seller, _ := e.user(0, "seller@example.com")
	before := e.snapshot()
	for _, v := range []string{strings.Repeat("x", 1<<20), "x" + strings.Repeat("é", 1<<19), "xx" + strings.Repeat("😀", 1<<18)} {
		r := seller.multipartParts("/book/add_book", field("title", "T"), field("author", "A"), field("description", v),
			field("price", "1.00"), field("stock", "1"))
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "too long") || !strings.Contains(r.body, `value="T"`) {
			t.Errorf("%d-byte description: %d %s", len(v), r.status, snippet(r.body))
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("the database changed: %s -> %s", before, after)
	}
}
