# Sourced by hack/test and hack/dev: installs the Debian packages the project needs,
# and only when one of them is missing (so it is quiet and offline on a ready machine).

FLOTILLA_SYSTEM_PACKAGES=(
    python3-kubernetes  # the Python client the conformance suite drives the emulator with
    python3-venv        # the suite's virtualenv (.venv)
    libyaml-dev         # CYAML (Sources/CYAML)
    pkg-config          # finds yaml-0.1 for SwiftPM
    openssh-server      # git-over-SSH test server
    libgit2-dev
    libssh2-1-dev
    git                 # the demo repository of `flotilla dev` and the tests' upstream repositories
    docker-registry     # image automation tests: a real registry (distribution 2.8) on loopback
    apache2-utils       # htpasswd -B for the registry's Basic auth
    python3-cryptography # the registry token server of the tests (RS256 JWTs)
    openssl             # its signing certificate
    curl                # pushes test images through the registry's HTTP API
    bubblewrap          # the sandbox .flux.yaml commands run in (flotilla run and dev)
    gpg                 # commit signatures: keyrings (gpg --dearmor) and signing
    gpgv                # commit signatures: GPG verification
    openssh-client      # commit signatures: ssh-keygen -Y verify / sign
    age                 # SOPS decryption: unwraps age-encrypted data keys
    chromium            # the dashboard's browser tests (headless, driven over the DevTools protocol)
)

ensure_system_packages() {
    local missing=() package
    for package in "${FLOTILLA_SYSTEM_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$package")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "Installing missing system packages: ${missing[*]}" >&2
    # Wait for a concurrent apt/dpkg run instead of failing on its lock.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=600 update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o DPkg::Lock::Timeout=600 \
        install --no-install-recommends "${missing[@]}" >/dev/null
}
