package userdata

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

var updateGzip = flag.Bool("update-gzip", false, "rewrite testdata/gzip/reference.txt.gz from Gzip (changes every host's user data: see Gzip)")

// gunzip decodes with the standard library's reader, as cloud-init's would.
func gunzip(t testing.TB, b []byte) (string, *gzip.Reader) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	zr.Multistream(false)
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip stream: %v", err)
	}
	return string(out), zr
}

// The bytes of a fixed document are the ones recorded: the encoding is ours,
// so a new Go release or dependency cannot change a host's user data (and
// replace the Swarm manager, or refresh the fleet) when its document did not
// change. The toolchain's compress/gzip, at any level, gives other bytes.
func TestGzipReference(t *testing.T) {
	doc, err := os.ReadFile("testdata/gzip/reference.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := Gzip(string(doc))
	if *updateGzip {
		if err := os.WriteFile("testdata/gzip/reference.txt.gz", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/gzip/reference.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := gunzip(t, want); back != string(doc) {
		t.Fatal("reference.txt.gz does not decode to reference.txt")
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Gzip(reference.txt) is %d bytes that differ from the %d recorded in reference.txt.gz: "+
			"every host's user data would change on the next deploy", len(got), len(want))
	}
	for level := gzip.HuffmanOnly; level <= gzip.BestCompression; level++ {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, level)
		zw.Write(doc)
		zw.Close()
		if bytes.Equal(b.Bytes(), got) {
			t.Errorf("compress/gzip at level %d gives Gzip's bytes: Gzip would depend on the toolchain", level)
		}
	}
}

// Whatever goes in comes out of any gzip reader, with a header that carries
// no name or time.
func TestGzipRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	random := make([]byte, 40000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	inputs := map[string]string{
		"empty":        "",
		"one byte":     "x",
		"two bytes":    "xy",
		"long run":     strings.Repeat("a", 100000), // overlapping matches, distance 1, length 258
		"random":       string(random),              // nothing to match: literals 0-255
		"beyond 32KiB": strings.Repeat("abc", 5) + string(random[:33000]) + strings.Repeat("abc", 5),
		"all bytes": string(func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}()),
	}
	for _, r := range renderers {
		doc, err := r.render()
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		inputs[r.name] = doc
	}
	for name, in := range inputs {
		b := Gzip(in)
		out, zr := gunzip(t, b)
		if out != in {
			t.Errorf("%s: round trip gives %d bytes, want %d", name, len(out), len(in))
		}
		if !zr.ModTime.IsZero() || zr.Name != "" || zr.Comment != "" || zr.Extra != nil || zr.OS != 0xff {
			t.Errorf("%s: header carries time %v, name %q, comment %q, extra %v, OS %d", name, zr.ModTime, zr.Name, zr.Comment, zr.Extra, zr.OS)
		}
		if !bytes.Equal(b, Gzip(in)) {
			t.Errorf("%s: two compressions differ", name)
		}
	}
}

func FuzzGzip(f *testing.F) {
	f.Add("#cloud-config\n")
	f.Add(strings.Repeat("ab", 300))
	f.Fuzz(func(t *testing.T, in string) {
		if out, _ := gunzip(t, Gzip(in)); out != in {
			t.Fatalf("round trip of %q gives %q", in, out)
		}
	})
}

// Gzip against the toolchain's compress/gzip at its best level, on each
// host's document: time per document and compressed bytes (B/doc).
func BenchmarkGzip(b *testing.B) {
	for _, r := range renderers {
		doc, err := r.render()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(r.name+"/ours", func(b *testing.B) {
			n := 0
			for b.Loop() {
				n = len(Gzip(doc))
			}
			b.ReportMetric(float64(n), "B/doc")
		})
		b.Run(r.name+"/stdlib-9", func(b *testing.B) {
			n := 0
			for b.Loop() {
				var buf bytes.Buffer
				zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
				zw.Write([]byte(doc))
				zw.Close()
				n = buf.Len()
			}
			b.ReportMetric(float64(n), "B/doc")
		})
	}
}
