# SPDX-License-Identifier: MIT
# bash completion for sonde(1).
#
# The options of each command are read from the sonde being completed
# (`sonde COMMAND --help`, once per shell and command), so they are those of
# the installed binary and never go stale. What an option's argument is comes
# from its placeholder there (FILE, IFACE, FORMAT...); the values of the
# enumerated ones are listed here (tests/e2e/test_install.py checks them
# against what sonde accepts).

declare -gA _sonde_opts _sonde_args

# COMPREPLY from compgen ARGS..., one match a line (names with spaces stay whole).
_sonde_reply()
{
	mapfile -t COMPREPLY < <(compgen "$@")
}

# Fill _sonde_opts[BIN:CMD] (every option of CMD, '' for the top level) and
# _sonde_args[BIN:CMD:OPT] (the placeholder of an option taking an argument).
# Option lines of --help are indented 2 to 8 columns ("  -o, --output FORMAT  ..."
# or "      --stats  ..."); deeper lines continue a description.
_sonde_learn()
{
	local bin=$1 cmd=$2 key="$1:$2" line head word arg
	local -a names
	[[ -n ${_sonde_opts[$key]+set} ]] && return
	_sonde_opts[$key]=
	while IFS= read -r line; do
		[[ $line =~ ^\ {2,8}- ]] || continue
		head=${line#"${line%%[! ]*}"}
		head=${head%%  *}
		names=() arg=
		for word in $head; do
			if [[ $word == -* && -z $arg ]]; then
				names+=("${word%,}")
			else
				arg=$word
				break
			fi
		done
		for word in "${names[@]}"; do
			_sonde_opts[$key]+=" $word"
			[[ -n $arg ]] && _sonde_args[$key:$word]=$arg
		done
	done < <("$bin" ${cmd:+"$cmd"} --help 2>/dev/null)
}

# Complete the argument of option OPT (placeholder ARG) of command CMD.
_sonde_complete_arg()
{
	local cmd=$1 opt=$2 arg=$3 cur=$4
	case $opt in
	-o | --output)
		if [[ $cmd == tls ]]; then
			_sonde_reply -W 'text json' -- "$cur"
		elif [[ $cmd == query ]]; then
			_sonde_reply -W 'text json har' -- "$cur"
		else
			_sonde_reply -W 'text json har none' -- "$cur"
		fi
		return
		;;
	--source) _sonde_reply -W 'ebpf af_packet libpcap tc cgroup_skb af_xdp' -- "$cur"; return ;;
	--ebpf-hook) _sonde_reply -W 'auto fentry kprobe tracepoint' -- "$cur"; return ;;
	--color | --colour) _sonde_reply -W 'auto always never' -- "$cur"; return ;;
	--proto-port)
		# NAME=PORT: the dissector's name, then the port is the user's.
		[[ $cur == *=* ]] && return
		compopt -o nospace 2>/dev/null
		_sonde_reply -S = -W 'http1 http2 tls redis dns kafka mqtt amqp' -- "$cur"
		return
		;;
	esac
	case $arg in
	FILE | PATH)
		compopt -o filenames 2>/dev/null
		_sonde_reply -f -- "$cur"
		;;
	IFACE)
		local -a ifaces=(any)
		[[ -d /sys/class/net ]] && ifaces+=(/sys/class/net/*)
		ifaces=("${ifaces[@]#/sys/class/net/}")
		_sonde_reply -W "${ifaces[*]}" -- "$cur"
		;;
	USER) _sonde_reply -u -- "$cur" ;;
	NS)
		local -a names=(/run/netns/*)
		[[ -e ${names[0]} ]] && _sonde_reply -W "${names[*]#/run/netns/}" -- "$cur"
		;;
	PID*)
		# Lists are comma-separated: complete the last element.
		local done=${cur%"${cur##*,}"}
		local -a pids=(/proc/[0-9]*)
		_sonde_reply -P "$done" -W "${pids[*]#/proc/}" -- "${cur##*,}"
		;;
	NAME*)
		local done=${cur%"${cur##*,}"}
		_sonde_reply -P "$done" -W "$(cat /proc/[0-9]*/comm 2>/dev/null | sort -u)" \
			-- "${cur##*,}"
		;;
	*) COMPREPLY=() ;; # sizes, durations, numbers, filters: nothing to offer
	esac
}

_sonde()
{
	local bin=${1:-sonde} cur=${COMP_WORDS[COMP_CWORD]}
	local cmd='' i word prev opt
	COMPREPLY=()

	# The command is the first word naming one; -r FILE means read.
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		case $word in
		capture | read | query | tls | version) cmd=$word; break ;;
		-r*) cmd='read'; break ;;
		esac
	done
	[[ $cmd == version ]] && return

	_sonde_learn "$bin" "$cmd"
	local key="$bin:$cmd"

	# The argument of an option: "--opt VALUE", or "--opt=VALUE" (which
	# bash splits at '=').
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	if [[ $cur == = ]]; then
		opt=$prev cur=
	elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	else
		opt=$prev
	fi
	if [[ $opt == -r && $COMP_CWORD -eq 2 ]]; then # sonde -r FILE
		compopt -o filenames 2>/dev/null
		_sonde_reply -f -- "$cur"
		return
	fi
	if [[ $opt == -* && -n ${_sonde_args[$key:$opt]+set} ]]; then
		_sonde_complete_arg "$cmd" "$opt" "${_sonde_args[$key:$opt]}" "$cur"
		return
	fi

	if [[ $cur == -* ]]; then
		_sonde_reply -W "${_sonde_opts[$key]}" -- "$cur"
		return
	fi
	case $cmd in
	'') _sonde_reply -W 'capture read query tls version' -- "$cur" ;;
	read)
		# The capture file, or - for standard input.
		compopt -o filenames 2>/dev/null
		_sonde_reply -f -- "$cur"
		;;
	esac
}

complete -F _sonde sonde
