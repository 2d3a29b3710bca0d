#compdef bootstrap
# zsh completion for bootstrap.
# Load it with:  source <(bootstrap completion zsh)
# or install it as _bootstrap in a directory of $fpath.
_bootstrap() {
    local -a opts
    local cur=${words[CURRENT]}
    if [[ "$cur" == -* ]]; then
        opts=("${(@f)$(${words[1,CURRENT-1]} $cur --generate-bash-completion 2>/dev/null)}")
    else
        opts=("${(@f)$(${words[1,CURRENT-1]} --generate-bash-completion 2>/dev/null)}")
    fi
    if [[ -n "${opts[1]}" ]]; then
        compadd -a opts
    else
        _files
    fi
}
if [[ "${funcstack[1]}" == "_bootstrap" ]]; then
    _bootstrap "$@"
else
    compdef _bootstrap bootstrap
fi
