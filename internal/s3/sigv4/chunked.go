package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"
)

// Limits of the aws-chunked decoder, so that its memory is bounded
// whatever a client claims.
const (
	// MaxChunkSize is the largest chunk accepted, as MinIO's. Chunk
	// data is streamed through, never buffered, so the limit guards
	// against absurd sizes rather than bounding memory; real clients
	// send 64 KiB (AWS SDKs) to 1 MiB (botocore) chunks.
	MaxChunkSize = 16 << 20
	// maxLine is the longest chunk header or trailer line. A signed
	// chunk header is at most 16+17+64 bytes.
	maxLine = 4096
	// maxTrailers is the most trailer lines accepted.
	maxTrailers = 16
)

const (
	chunkSigPrefix  = "chunk-signature="
	trailerSigName  = "x-amz-trailer-signature"
	payloadAlgo     = "AWS4-HMAC-SHA256-PAYLOAD"
	trailerAlgo     = "AWS4-HMAC-SHA256-TRAILER"
	chunkedEncoding = "aws-chunked"
)

// chunkSigner computes the chained signatures of a signed aws-chunked
// body.
type chunkSigner struct {
	key     []byte
	amzDate string
	scope   string
	prev    string // signature of the previous chunk, or the seed
}

// chunk returns the signature of a chunk whose data hashes to dataHash
// and makes it the previous one.
func (s *chunkSigner) chunk(dataHash string) string {
	sig := signHex(s.key, payloadAlgo+"\n"+s.amzDate+"\n"+s.scope+"\n"+s.prev+"\n"+EmptySHA256+"\n"+dataHash)
	s.prev = sig
	return sig
}

// trailer returns the signature of the canonical trailer (each
// "name:value\n").
func (s *chunkSigner) trailer(canonical string) string {
	return signHex(s.key, trailerAlgo+"\n"+s.amzDate+"\n"+s.scope+"\n"+s.prev+"\n"+sha256Hex(canonical))
}

// trailerField is one trailing header.
type trailerField struct{ name, value string }

// chunkReader decodes an aws-chunked body:
//
//	hex-size [";chunk-signature=" sig] CRLF data CRLF   (repeated)
//	"0" [";chunk-signature=" sig] CRLF
//	(name ":" value CRLF)*                               trailers
//	CRLF
//
// It streams data through as it arrives. A chunk's signature is checked
// as soon as its last byte has been read, and a failure is returned
// with (or instead of) those bytes; the caller must discard everything
// it read from a body that ends in an error.
type chunkReader struct {
	br       *bufio.Reader
	signer   *chunkSigner // nil: chunks are not signed
	trailers bool         // trailing headers follow the last chunk
	declared map[string]bool

	h     hash.Hash // SHA-256 of the current chunk, when signed
	left  int64     // bytes of the current chunk not yet read
	want  string    // signature of the current chunk
	state int
	err   error

	got []trailerField // trailers received, signature excluded
}

const (
	stHeader = iota
	stData
	stDone
)

// newChunkReader decodes r. signer is nil for unsigned chunks; trailers
// says whether the body ends with trailing headers, declared lists the
// names (lower-case) that x-amz-trailer announced.
func newChunkReader(r io.Reader, signer *chunkSigner, trailers bool, declared []string) *chunkReader {
	c := &chunkReader{
		br:       bufio.NewReaderSize(r, maxLine),
		signer:   signer,
		trailers: trailers,
		declared: map[string]bool{},
	}
	for _, d := range declared {
		c.declared[d] = true
	}
	if signer != nil {
		c.h = sha256.New()
	}
	return c
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.err == nil {
		switch c.state {
		case stHeader:
			c.err = c.readHeader()
		case stData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > c.left {
				p = p[:c.left]
			}
			n, err := c.br.Read(p)
			if c.h != nil {
				c.h.Write(p[:n])
			}
			c.left -= int64(n)
			if c.left == 0 {
				err = c.endChunk()
			} else if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				c.err = c.fail(err)
			}
			return n, c.err
		case stDone:
			c.err = io.EOF
		}
	}
	return 0, c.err
}

// fail turns a read error into the error the body ends with.
func (c *chunkReader) fail(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return newError(CodeIncompleteBody, "The aws-chunked body ended before its final chunk.")
	}
	return err
}

// readLine reads one CRLF-terminated line (a bare LF is accepted) of at
// most maxLine bytes, without its terminator.
func (c *chunkReader) readLine() (string, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", newError(CodeInvalidRequest, "Malformed aws-chunked body: a line is longer than %d bytes.", maxLine)
	case err != nil:
		return "", c.fail(err)
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return string(line), nil
}

func malformedChunk(format string, args ...any) *Error {
	return newError(CodeInvalidRequest, "Malformed aws-chunked body: "+format+".", args...)
}

// readHeader reads a chunk header; a final chunk is followed by the
// trailers, which it reads too.
func (c *chunkReader) readHeader() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	sizeText, ext, hasExt := strings.Cut(line, ";")
	sizeText = strings.TrimRight(sizeText, " \t")
	if sizeText == "" || len(sizeText) > 16 {
		return malformedChunk("the chunk size %q is not a hex number", truncate(sizeText))
	}
	size, perr := strconv.ParseUint(sizeText, 16, 64)
	if perr != nil {
		return malformedChunk("the chunk size %q is not a hex number", truncate(sizeText))
	}
	if size > MaxChunkSize {
		return malformedChunk("a chunk of %d bytes is larger than the limit of %d", size, MaxChunkSize)
	}
	if c.signer != nil {
		sig, ok := strings.CutPrefix(ext, chunkSigPrefix)
		if !hasExt || !ok || !isHexSHA256(sig) {
			return malformedChunk("a chunk header lacks its chunk-signature")
		}
		c.want = sig
	}
	// In an unsigned body, chunk extensions are ignored.
	c.left = int64(size)
	if c.h != nil {
		c.h.Reset()
	}
	if size > 0 {
		c.state = stData
		return nil
	}
	if c.signer != nil {
		if !sameSignature(c.signer.chunk(EmptySHA256), c.want) {
			return chunkSigMismatch()
		}
	}
	if err := c.readTrailers(); err != nil {
		return err
	}
	// Nothing may follow.
	if _, err := c.br.ReadByte(); err != io.EOF {
		if err == nil {
			return malformedChunk("data follows the final chunk")
		}
		return err
	}
	c.state = stDone
	return nil
}

func chunkSigMismatch() *Error {
	return newError(CodeSignatureDoesNotMatch, "The chunk signature we calculated does not match the signature you provided.")
}

// endChunk reads the CRLF that ends a chunk's data and checks the
// chunk's signature.
func (c *chunkReader) endChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.br, crlf[:]); err != nil {
		return err
	}
	if crlf != [2]byte{'\r', '\n'} {
		return malformedChunk("chunk data is not followed by CRLF")
	}
	if c.signer != nil {
		if !sameSignature(c.signer.chunk(hex.EncodeToString(c.h.Sum(nil))), c.want) {
			return chunkSigMismatch()
		}
	}
	c.state = stHeader
	return nil
}

func malformedTrailer(format string, args ...any) *Error {
	return newError(CodeMalformedTrailerError, "The request contained trailing data that was not well-formed: "+format+".", args...)
}

// readTrailers reads the lines after the final chunk up to the empty
// line that ends the body, and checks the trailer signature of a signed
// body.
func (c *chunkReader) readTrailers() error {
	var sig string
	seenSig := false
	for lines := 0; ; lines++ {
		line, err := c.readLine()
		if isIncomplete(err) {
			// The body ends without the empty line that should close
			// it. Every byte of data has been read (and its signature
			// checked) by now, so accept it; a trailer cut short is
			// caught below as missing.
			break
		}
		if err != nil {
			return err
		}
		if line == "" {
			// Some encoders put an empty line between the final chunk
			// and the trailers; skip one if trailers are expected and
			// none came yet.
			if lines == 0 && c.trailers && len(c.declared) > 0 {
				continue
			}
			break
		}
		if !c.trailers {
			return malformedChunk("trailing headers follow the final chunk, but x-amz-content-sha256 announces none")
		}
		if lines >= maxTrailers {
			return malformedTrailer("more than %d trailer lines", maxTrailers)
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return malformedTrailer("the line %q is not name:value", truncate(line))
		}
		name = strings.ToLower(strings.Trim(name, " \t"))
		value = strings.Trim(value, " \t")
		if seenSig {
			return malformedTrailer("%s is not the last trailer", trailerSigName)
		}
		if name == trailerSigName {
			if c.signer == nil {
				return malformedTrailer("an unsigned body carries %s", trailerSigName)
			}
			sig, seenSig = value, true
			continue
		}
		if !c.declared[name] {
			return malformedTrailer("the trailer %q was not announced in x-amz-trailer", truncate(name))
		}
		for _, f := range c.got {
			if f.name == name {
				return malformedTrailer("the trailer %q appears twice", name)
			}
		}
		c.got = append(c.got, trailerField{name, value})
	}
	if c.signer != nil && c.trailers {
		if !seenSig {
			return malformedTrailer("the trailers lack %s", trailerSigName)
		}
		var canon strings.Builder
		for _, f := range c.got {
			canon.WriteString(f.name + ":" + f.value + "\n")
		}
		if !sameSignature(c.signer.trailer(canon.String()), sig) {
			return newError(CodeSignatureDoesNotMatch, "The trailer signature we calculated does not match the signature you provided.")
		}
	}
	for name := range c.declared {
		if !c.hasTrailer(name) {
			return malformedTrailer("the trailer %q announced in x-amz-trailer is missing", name)
		}
	}
	return nil
}

func isIncomplete(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeIncompleteBody
}

func (c *chunkReader) hasTrailer(name string) bool {
	_, ok := c.trailer(name)
	return ok
}

// trailer returns the value of a trailing header received.
func (c *chunkReader) trailer(name string) (string, bool) {
	for _, f := range c.got {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}
