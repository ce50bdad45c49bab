package userdata

import (
	"encoding/binary"
	"hash/crc32"
	"math/bits"
)

// Gzip returns doc gzip-compressed (RFC 1952), as hosts get it: cloud-init
// recognises gzip user data by its magic bytes and decompresses it.
//
// The bytes are a function of doc alone, and they stay the same across Go
// releases and dependency updates: a host's user data is compared byte for
// byte (the Swarm manager is replaced when it changes, a launch template gets
// a new version and its group an instance refresh), and no compressor
// promises a stable output (compress/flate does not: golang/go#75532). So
// the encoding is defined here, in full: a header with no name, time or
// flags; one deflate block (RFC 1951) with the fixed Huffman codes; matches
// found greedily, the longest among the last maxChain earlier positions with
// the same three bytes, the nearest on a tie. Any gzip reader decodes it.
// Changing this encoding changes every host's user data: gzip_test.go holds
// the bytes of a reference document so that it cannot happen unnoticed.
func Gzip(doc string) []byte {
	src := []byte(doc)
	out := []byte{
		0x1f, 0x8b, // magic
		8,          // CM: deflate
		0,          // FLG: no name, comment or extra field
		0, 0, 0, 0, // MTIME: none
		0,    // XFL
		0xff, // OS: unknown
	}
	out = append(out, deflate(src)...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(src))
	return binary.LittleEndian.AppendUint32(out, uint32(len(src))) // ISIZE: length mod 2^32
}

// The match search. These numbers are part of the encoding: changing one
// changes the bytes Gzip returns.
const (
	window   = 1 << 15 // deflate's largest distance
	minMatch = 3
	maxMatch = 258
	maxChain = 128 // earlier positions tried per position
	hashBits = 15
)

// RFC 1951, 3.2.5: length codes 257-285 and distance codes 0-29, by base
// value and extra bits.
var (
	lengthBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// deflate encodes src as one final block with the fixed Huffman codes.
func deflate(src []byte) []byte {
	var w bitWriter
	w.write(1, 1) // BFINAL
	w.write(1, 2) // BTYPE 01: fixed Huffman codes

	head := make([]int32, 1<<hashBits)
	for i := range head {
		head[i] = -1
	}
	prev := make([]int32, len(src))
	hash := func(i int) uint32 {
		v := uint32(src[i])<<16 | uint32(src[i+1])<<8 | uint32(src[i+2])
		return (v * 2654435761) >> (32 - hashBits)
	}
	insert := func(i int) {
		if i+minMatch <= len(src) {
			h := hash(i)
			prev[i], head[h] = head[h], int32(i)
		}
	}
	for i := 0; i < len(src); {
		best, dist := 0, 0
		if i+minMatch <= len(src) {
			limit := min(maxMatch, len(src)-i)
			for c, n := head[hash(i)], 0; c >= 0 && i-int(c) <= window && n < maxChain; c, n = prev[c], n+1 {
				l := 0
				for l < limit && src[int(c)+l] == src[i+l] {
					l++
				}
				if l > best {
					best, dist = l, i-int(c)
					if l == limit {
						break
					}
				}
			}
		}
		if best < minMatch {
			w.symbol(int(src[i]))
			insert(i)
			i++
			continue
		}
		c := code(lengthBase[:], best)
		w.symbol(257 + c)
		w.write(uint32(best-lengthBase[c]), lengthExtra[c])
		d := code(distBase[:], dist)
		w.huffman(uint32(d), 5) // fixed distance codes: 5 bits each
		w.write(uint32(dist-distBase[d]), distExtra[d])
		for j := i; j < i+best; j++ {
			insert(j)
		}
		i += best
	}
	w.symbol(256) // end of block
	return w.bytes()
}

// code returns the index of the largest base not above v.
func code(base []int, v int) int {
	i := len(base) - 1
	for base[i] > v {
		i--
	}
	return i
}

// bitWriter packs bits least significant first, as deflate does.
type bitWriter struct {
	out   []byte
	acc   uint64
	nbits int
}

// write appends the n low bits of v (data elements: extra bits, headers).
func (w *bitWriter) write(v uint32, n int) {
	w.acc |= uint64(v) << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

// huffman appends an n-bit Huffman code, which deflate packs most
// significant bit first.
func (w *bitWriter) huffman(code uint32, n int) {
	w.write(bits.Reverse32(code)>>(32-n), n)
}

// symbol appends a literal/length symbol (0-287) in the fixed Huffman code
// (RFC 1951, 3.2.6).
func (w *bitWriter) symbol(s int) {
	switch {
	case s < 144:
		w.huffman(uint32(0x30+s), 8)
	case s < 256:
		w.huffman(uint32(0x190+s-144), 9)
	case s < 280:
		w.huffman(uint32(s-256), 7)
	default:
		w.huffman(uint32(0xc0+s-280), 8)
	}
}

// bytes flushes the last partial byte, zero-padded.
func (w *bitWriter) bytes() []byte {
	if w.nbits > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.nbits = 0, 0
	}
	return w.out
}
