// tack/help.ts: the help texts of `tlsify tack`, laid out as tackpy 0.9.7's (HelpCommand.py and
// each command's printHelp), with tlsify's additions (--pass, defaults, file modes).

export const TACK_COMMANDS = ['genkey', 'sign', 'break', 'view', 'help'] as const;
export type TackCommand = (typeof TACK_COMMANDS)[number];

const PASS_HELP = `  -p PASSWORD        : Use this TACK key password (visible to other users: prefer --pass)
  --pass SOURCE      : Read the password from env:VAR, fd:N or file:PATH (first line)
                       Without either, the password is asked for on the terminal.`;

export const GENERAL_HELP = `tlsify tack: TACK keys, TACKs and break signatures in tackpy 0.9.7's formats

Commands (use "tlsify tack help <command>" to see optional args):
  genkey
  sign     -k KEY -c CERT
  break    -k KEY
  view     FILE
  help     COMMAND
A prefix of a command is enough: s, b, v, g.
`;

export const COMMAND_HELP: Record<TackCommand, string> = {
  genkey: `Creates a new TACK key file (TACK PRIVATE KEY, encrypted with the password).

  genkey

Optional arguments:
  -v                 : Verbose: write the TACK ID to stderr
  -o FILE            : Write the key file to this new file, mode 0600 (instead of stdout)
${PASS_HELP}
`,
  sign: `Creates a TACK for a server certificate's public key.

  sign -k KEY -c CERT

  -k KEY             : Use this TACK key file ("-" for stdin)
  -c CERT            : Sign this certificate's public key, PEM or DER ("-" for stdin)

Optional arguments:
  -v                 : Verbose: write the TACK's fields to stderr
  -o FILE            : Write the output to this file (instead of stdout)
${PASS_HELP}
  -m MIN_GENERATION  : Use this min_generation number (0-255, default 0)
  -g GENERATION      : Use this generation number (0-255, default MIN_GENERATION)
  -e EXPIRATION      : Use this UTC time for expiration
                         ("2013-01-02T03:04Z", "2013-01-02T03Z", "2013-01-02Z",
                          "2013-01Z", "2013Z")
                       Or, specify a delta from current time:
                         ("5m", "30d", "1d12h5m", "0m", etc.)
                       If not specified, the certificate's notAfter is used,
                       rounded up to the minute.
  -n NUM@INTERVAL    : Generate NUM TACKs (1-9999), with expiration times spaced
                       out by INTERVAL (see -e for delta syntax). The -o argument
                       is a filename prefix (PREFIX_0000.pem, ...), and -e is the
                       first expiration time (default: INTERVAL from now).
`,
  break: `Creates a break signature for a TACK key: it tells clients to drop their pins to it.

  break -k KEY

  -k KEY             : Use this TACK key file ("-" for stdin)

Optional arguments:
  -v                 : Verbose: write the broken TACK ID to stderr
  -o FILE            : Write the output to this file (instead of stdout)
${PASS_HELP}
`,
  view: `Views a TACK, TACK key file, TACK break signatures, or certificate.

  view FILE          ("-" for stdin)
`,
  help: `Provides help for individual commands.

  help COMMAND
`,
};
