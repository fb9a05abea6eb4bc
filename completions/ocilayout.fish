# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ocilayout_global_optspecs
    string join \n v/verbose q/quiet no-progress h/help V/version
end

function __fish_ocilayout_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ocilayout_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ocilayout_using_subcommand
    set -l cmd (__fish_ocilayout_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ocilayout -n "__fish_ocilayout_needs_command" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -s h -l help -d 'Print help'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -s V -l version -d 'Print version'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "init" -d 'Create an empty layout (does nothing to an existing one)'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "ls" -d 'List the entries of index.json with their names'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "resolve" -d 'Print the digest a reference resolves to'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "tag" -d 'Give an image more names; a name already in use moves to it'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "untag" -d 'Remove names from index.json (blobs stay until gc)'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "gc" -d 'Remove blobs no index.json entry reaches, and referrer entries whose subject has gone'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "fsck" -d 'Check every reachable blob\'s presence, size, digest and media type'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "pull" -d 'Copy images from registries into a layout (default: every platform of each index)'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "push" -d 'Copy one image of a layout to a registry'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "sync" -d 'Push every named image of a layout to a registry under a prefix'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "copy" -d 'Copy one image, with its referrers, between layouts and registries (oci-layout://... or a registry reference)'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "export" -d 'Write a layout, or the closure of chosen references, to one tar archive'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "import" -d 'Merge an archive into a layout (created if needed); refused as a whole if anything is wrong'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "serve" -d 'Serve the layout as a registry (distribution API; pull, and push with --push)'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "inspect" -d 'Show what a manifest or index holds: platforms, config, layers, sizes, referrers'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "tags" -d 'List every tag of a registry repository'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "login" -d 'Check credentials against a registry and save them where skopeo and podman look'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "logout" -d 'Remove saved credentials of a registry'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "rm" -d 'Remove images: their names, and every blob no remaining entry reaches'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "du" -d 'Show each image\'s total, unique and shared bytes, and the layout\'s garbage'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "generate" -d 'Write man pages or shell completions'
complete -c ocilayout -n "__fish_ocilayout_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand init" -l json -d 'Print a JSON object'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand init" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand init" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand init" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand ls" -l json -d 'Print a JSON array of entries'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand ls" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand ls" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand ls" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand resolve" -l platform -d 'Descend through image indexes to the manifest for os/arch[/variant]; a single-platform image must be for that platform (its config says so)' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand resolve" -l json -d 'Print the whole descriptor as JSON'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand resolve" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand resolve" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand resolve" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand resolve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tag" -l full-ref-name -d 'Also write the full name into org.opencontainers.image.ref.name (default: the tag alone)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tag" -l json -d 'Print a JSON object'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tag" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tag" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tag" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tag" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand untag" -l json -d 'Print a JSON object'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand untag" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand untag" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand untag" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand untag" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand gc" -l dry-run -d 'Report exactly what would be removed, and remove nothing'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand gc" -l json -d 'Print a JSON summary'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand gc" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand gc" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand gc" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand fsck" -l json -d 'Print a JSON report'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand fsck" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand fsck" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand fsck" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand fsck" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l platform -d 'Pull only the manifest for os/arch[/variant] (default: the whole index, every platform); a single-platform image must be for that platform' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l cacert -d 'Also trust the certificates in this PEM file (besides the system\'s; repeatable)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l username -d 'User name for the registry the command names: the destination of push, sync and copy, the source of pull, tags and inspect (the password comes from --password-stdin). It is offered to that registry only' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l auth-file -d 'Read credentials from this auth file (containers auth.json format) in place of the default' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l jobs -d 'Blobs transferred at once' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l timeout -d 'Seconds to wait: for a connection, for any progress of a transfer, for a small document (manifest, token, tag list) to arrive whole, and for a credential helper to answer. Each expiry counts as a transient failure and is retried' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l full-ref-name -d 'Also write the full name into org.opencontainers.image.ref.name (default: the tag alone)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l no-referrers -d 'Do not bring along referrers (signatures, SBOMs)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l json -d 'Print a JSON object when done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l plain-http -d 'Speak plain HTTP instead of HTTPS. Without it, a registry on localhost or 127.0.0.0/8 that answers HTTPS in plain HTTP is spoken to in plain HTTP (as docker does; -v says so). Credentials only ever go to the scheme, host and port they are for: never to a redirect or upload Location elsewhere, never from HTTPS down to HTTP'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l insecure -d 'Skip TLS certificate verification (a warning says so)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l password-stdin -d 'Read the password from standard input'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand pull" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l cacert -d 'Also trust the certificates in this PEM file (besides the system\'s; repeatable)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l username -d 'User name for the registry the command names: the destination of push, sync and copy, the source of pull, tags and inspect (the password comes from --password-stdin). It is offered to that registry only' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l auth-file -d 'Read credentials from this auth file (containers auth.json format) in place of the default' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l jobs -d 'Blobs transferred at once' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l timeout -d 'Seconds to wait: for a connection, for any progress of a transfer, for a small document (manifest, token, tag list) to arrive whole, and for a credential helper to answer. Each expiry counts as a transient failure and is retried' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l no-referrers -d 'Do not push the layout\'s referrers (signatures, SBOMs) of the image'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l json -d 'Print a JSON object when done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l plain-http -d 'Speak plain HTTP instead of HTTPS. Without it, a registry on localhost or 127.0.0.0/8 that answers HTTPS in plain HTTP is spoken to in plain HTTP (as docker does; -v says so). Credentials only ever go to the scheme, host and port they are for: never to a redirect or upload Location elsewhere, never from HTTPS down to HTTP'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l insecure -d 'Skip TLS certificate verification (a warning says so)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l password-stdin -d 'Read the password from standard input'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l cacert -d 'Also trust the certificates in this PEM file (besides the system\'s; repeatable)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l username -d 'User name for the registry the command names: the destination of push, sync and copy, the source of pull, tags and inspect (the password comes from --password-stdin). It is offered to that registry only' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l auth-file -d 'Read credentials from this auth file (containers auth.json format) in place of the default' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l jobs -d 'Blobs transferred at once' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l timeout -d 'Seconds to wait: for a connection, for any progress of a transfer, for a small document (manifest, token, tag list) to arrive whole, and for a credential helper to answer. Each expiry counts as a transient failure and is retried' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l no-referrers -d 'Do not push referrers (signatures, SBOMs)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l json -d 'Print a JSON object when done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l plain-http -d 'Speak plain HTTP instead of HTTPS. Without it, a registry on localhost or 127.0.0.0/8 that answers HTTPS in plain HTTP is spoken to in plain HTTP (as docker does; -v says so). Credentials only ever go to the scheme, host and port they are for: never to a redirect or upload Location elsewhere, never from HTTPS down to HTTP'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l insecure -d 'Skip TLS certificate verification (a warning says so)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l password-stdin -d 'Read the password from standard input'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l platform -d 'Copy only the manifest for os/arch[/variant] of an index' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l cacert -d 'Also trust the certificates in this PEM file (besides the system\'s; repeatable)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l username -d 'User name for the registry the command names: the destination of push, sync and copy, the source of pull, tags and inspect (the password comes from --password-stdin). It is offered to that registry only' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l auth-file -d 'Read credentials from this auth file (containers auth.json format) in place of the default' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l jobs -d 'Blobs transferred at once' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l timeout -d 'Seconds to wait: for a connection, for any progress of a transfer, for a small document (manifest, token, tag list) to arrive whole, and for a credential helper to answer. Each expiry counts as a transient failure and is retried' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l src-username -d 'User name for the source registry; the password comes from --src-password-stdin, else from the auth file entry for that registry with this user name' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l dest-username -d 'User name for the destination registry (the same as --username); the password comes from --dest-password-stdin, else from the auth file entry for that registry with this user name' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l full-ref-name -d 'Also write the full name into org.opencontainers.image.ref.name of a destination layout'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l json -d 'Print a JSON object: {"source", "destination", "digest", "blobs_written", "blobs_skipped", "bytes", "moved"}'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l plain-http -d 'Speak plain HTTP instead of HTTPS. Without it, a registry on localhost or 127.0.0.0/8 that answers HTTPS in plain HTTP is spoken to in plain HTTP (as docker does; -v says so). Credentials only ever go to the scheme, host and port they are for: never to a redirect or upload Location elsewhere, never from HTTPS down to HTTP'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l insecure -d 'Skip TLS certificate verification (a warning says so)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l password-stdin -d 'Read the password from standard input'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l src-password-stdin -d 'Read the source registry\'s password from standard input'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l dest-password-stdin -d 'Read the destination registry\'s password from standard input'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand copy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand export" -l base -d 'A layout the receiving side already holds: its blobs are left out (incremental update)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand export" -l gzip -d 'Compress with gzip (implied by a `.tar.gz` or `.tgz` archive name)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand export" -l docker-manifest -d 'Also write the manifest.json that `docker load` reads'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand export" -l json -d 'Print a JSON summary (not with `-`: standard output is the archive)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand export" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand export" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand export" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand import" -l platform -d 'Store only the manifest for os/arch[/variant] of each image index, under the index\'s name (as `pull --platform` does): for archives that hold one platform\'s blobs, such as the ones `ctr images export` and `nerdctl save` write by default' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand import" -l full-ref-name -d 'Also write the full name into org.opencontainers.image.ref.name of each image that has one (default: an OCI archive\'s entries keep their annotations; a docker-archive\'s get the tag)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand import" -l json -d 'Print a JSON summary'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand import" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand import" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand import" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l addr -d 'Address to listen on: HOST:PORT, or :PORT for every interface, IPv4 and IPv6 (port 0 picks a free port; the startup line says which)' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l tls-cert -d 'PEM certificate chain: serve HTTPS (needs --tls-key)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l tls-key -d 'PEM private key for --tls-cert' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l htpasswd -d 'htpasswd file with bcrypt entries (htpasswd -B): every request needs Basic credentials' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l default-repo -d 'Repository under which entries named only by a bare tag (umoci, skopeo, oras) are served' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l max-connections -d 'Connections open at once; more are closed as soon as they are accepted' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l max-connections-per-client -d 'Connections open at once from one client address' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l max-uploads -d 'Upload sessions open at once (each is a small file, no open descriptor); more answer 429' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l max-uploads-per-client -d 'Upload sessions open at once from one client address' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l upload-idle -d 'Seconds an upload session may go unused before it is dropped with its bytes' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l send-timeout -d 'Seconds a response may wait for a client that stopped reading (or took less than 64 KiB in that time) before the connection is cut' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l blocking-threads -d 'Threads for slow work (disk, hashing, bcrypt); more work waits its turn' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l push -d 'Accept pushes too (blob uploads, manifest PUT); without it every write answers 405'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l delete -d 'Accept DELETE of a tag, of a manifest by digest (its entries leave index.json) and of a blob (refused while an image of the layout reaches it); without it DELETE answers 405'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l json -d 'Print the startup line, and with -v each request, as JSON lines on stdout: {"event":"listening","addr","url","tls","push","delete"}, {"event":"request","method","path","status"}'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand serve" -s h -l help -d 'Print help'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l platform -d 'Descend through image indexes to the manifest for os/arch[/variant]' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l cacert -d 'Also trust the certificates in this PEM file (besides the system\'s; repeatable)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l username -d 'User name for the registry the command names: the destination of push, sync and copy, the source of pull, tags and inspect (the password comes from --password-stdin). It is offered to that registry only' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l auth-file -d 'Read credentials from this auth file (containers auth.json format) in place of the default' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l jobs -d 'Blobs transferred at once' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l timeout -d 'Seconds to wait: for a connection, for any progress of a transfer, for a small document (manifest, token, tag list) to arrive whole, and for a credential helper to answer. Each expiry counts as a transient failure and is retried' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l raw -d 'Print the exact bytes of the manifest or index (sha256sum of them is its digest)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l config -d 'Print the exact bytes of the image\'s config'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l json -d 'Print a JSON object'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l plain-http -d 'Speak plain HTTP instead of HTTPS. Without it, a registry on localhost or 127.0.0.0/8 that answers HTTPS in plain HTTP is spoken to in plain HTTP (as docker does; -v says so). Credentials only ever go to the scheme, host and port they are for: never to a redirect or upload Location elsewhere, never from HTTPS down to HTTP'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l insecure -d 'Skip TLS certificate verification (a warning says so)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l password-stdin -d 'Read the password from standard input'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l cacert -d 'Also trust the certificates in this PEM file (besides the system\'s; repeatable)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l username -d 'User name for the registry the command names: the destination of push, sync and copy, the source of pull, tags and inspect (the password comes from --password-stdin). It is offered to that registry only' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l auth-file -d 'Read credentials from this auth file (containers auth.json format) in place of the default' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l jobs -d 'Blobs transferred at once' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l timeout -d 'Seconds to wait: for a connection, for any progress of a transfer, for a small document (manifest, token, tag list) to arrive whole, and for a credential helper to answer. Each expiry counts as a transient failure and is retried' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l json -d 'Print a JSON object'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l plain-http -d 'Speak plain HTTP instead of HTTPS. Without it, a registry on localhost or 127.0.0.0/8 that answers HTTPS in plain HTTP is spoken to in plain HTTP (as docker does; -v says so). Credentials only ever go to the scheme, host and port they are for: never to a redirect or upload Location elsewhere, never from HTTPS down to HTTP'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l insecure -d 'Skip TLS certificate verification (a warning says so)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l password-stdin -d 'Read the password from standard input'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand tags" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -s u -l username -d 'The user name (prompted for on the terminal when not given)' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -l auth-file -d 'Save into this auth file instead of the default (see above)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -l cacert -d 'Also trust the certificates in this PEM file (repeatable)' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -l timeout -d 'Seconds to wait for the registry' -r
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -l password-stdin -d 'Read the password from standard input (its first line) instead of prompting'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -l json -d 'Print a JSON object'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -l plain-http -d 'Speak plain HTTP instead of HTTPS'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -l insecure -d 'Skip TLS certificate verification (a warning says so)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand login" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand logout" -l auth-file -d 'The auth file to edit instead of the default' -r -F
complete -c ocilayout -n "__fish_ocilayout_using_subcommand logout" -l all -d 'Remove the credentials of every registry'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand logout" -l json -d 'Print a JSON object'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand logout" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand logout" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand logout" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand logout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand rm" -l dry-run -d 'Report exactly what would be removed, and change nothing'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand rm" -l json -d 'Print a JSON summary'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand rm" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand rm" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand rm" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand du" -l json -d 'Print a JSON object'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand du" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand du" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand du" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand du" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -s h -l help -d 'Print help'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -f -a "man" -d 'Write ocilayout.1 and ocilayout-<command>.1 into DIR'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -f -a "completions" -d 'Write the completion script for SHELL into DIR'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and not __fish_seen_subcommand_from man completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from man" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from man" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from man" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from man" -s h -l help -d 'Print help'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from completions" -s v -l verbose -d 'More detail on stderr: -v one line per registry request (method, URL, status, bytes, time), -vv its headers too, with credentials and tokens redacted'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from completions" -s q -l quiet -d 'Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags and du print, fsck\'s problems, and any --json; no report of what was done'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from completions" -l no-progress -d 'Never draw progress bars'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from completions" -s h -l help -d 'Print help'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "man" -d 'Write ocilayout.1 and ocilayout-<command>.1 into DIR'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "completions" -d 'Write the completion script for SHELL into DIR'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "init" -d 'Create an empty layout (does nothing to an existing one)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "ls" -d 'List the entries of index.json with their names'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "resolve" -d 'Print the digest a reference resolves to'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "tag" -d 'Give an image more names; a name already in use moves to it'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "untag" -d 'Remove names from index.json (blobs stay until gc)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "gc" -d 'Remove blobs no index.json entry reaches, and referrer entries whose subject has gone'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "fsck" -d 'Check every reachable blob\'s presence, size, digest and media type'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "pull" -d 'Copy images from registries into a layout (default: every platform of each index)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "push" -d 'Copy one image of a layout to a registry'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "sync" -d 'Push every named image of a layout to a registry under a prefix'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "copy" -d 'Copy one image, with its referrers, between layouts and registries (oci-layout://... or a registry reference)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "export" -d 'Write a layout, or the closure of chosen references, to one tar archive'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "import" -d 'Merge an archive into a layout (created if needed); refused as a whole if anything is wrong'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "serve" -d 'Serve the layout as a registry (distribution API; pull, and push with --push)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "inspect" -d 'Show what a manifest or index holds: platforms, config, layers, sizes, referrers'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "tags" -d 'List every tag of a registry repository'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "login" -d 'Check credentials against a registry and save them where skopeo and podman look'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "logout" -d 'Remove saved credentials of a registry'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "rm" -d 'Remove images: their names, and every blob no remaining entry reaches'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "du" -d 'Show each image\'s total, unique and shared bytes, and the layout\'s garbage'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "generate" -d 'Write man pages or shell completions'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and not __fish_seen_subcommand_from init ls resolve tag untag gc fsck pull push sync copy export import serve inspect tags login logout rm du generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "man" -d 'Write ocilayout.1 and ocilayout-<command>.1 into DIR'
complete -c ocilayout -n "__fish_ocilayout_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "completions" -d 'Write the completion script for SHELL into DIR'
