// Package archtest holds repository-wide tests of foyer's shape, in the style of Tailscale's:
// every package has a package comment, and imports point the declared way
// (cmd -> gateway -> admission, queue, web; queue, web and admission import nothing of the
// project; internal/ is for the binaries, the tools' libraries and the test helpers). It has
// no code of its own.
package archtest
