# zig cc as the stub's compiler: a static musl program for any architecture, from any host.
#
# Included by CMakeLists.txt before project(), when no compiler was given. Why musl and not a static glibc program:
# glibc's start-up runs CPUID some forty times (cpu features, cache sizes) and applies its IRELATIVE relocations
# before main; under a hypervisor every CPUID is a VM exit, so a static glibc stub starts several times slower than
# a static musl one (docs/explanation/cost.rst has the figures). Debian's musl-gcc is preferred where it is; zig
# (the ziglang wheel, or zig on PATH) builds the same kind of program where it is not, and cross-compiles.
#
# Reusable on its own for another architecture's stub, e.g.
#   cmake -S src/stub -B build -DSYMLINK_SAFE_ZIG_TARGET=aarch64-linux-musl [-DSYMLINK_SAFE_ZIG=/path/to/zig]
# Sets SYMLINK_SAFE_ZIG_USED and SYMLINK_SAFE_ZIG_TARGET_USED, and CMAKE_C_COMPILER to a wrapper around zig cc.

set(SYMLINK_SAFE_ZIG "" CACHE FILEPATH
  "zig to build the stub with; empty: the ziglang module of the Python building the wheel, else zig on PATH")
set(SYMLINK_SAFE_ZIG_TARGET "" CACHE STRING
  "zig target triple of the stub, e.g. aarch64-linux-musl; empty: the musl twin of the building Python's target")
set(SYMLINK_SAFE_ZIG_USED OFF)

# The Python a wheel build runs under (scikit-build-core passes it): its zig, and the target it was built for.
set(_symlink_safe_python "")
if(DEFINED Python_EXECUTABLE)
  set(_symlink_safe_python "${Python_EXECUTABLE}")
elseif(DEFINED Python3_EXECUTABLE)
  set(_symlink_safe_python "${Python3_EXECUTABLE}")
endif()
set(_symlink_safe_multiarch "")
set(_symlink_safe_zig "${SYMLINK_SAFE_ZIG}")
if(_symlink_safe_python)
  # The multiarch triple is the one the interpreter was compiled for (i386-linux-gnu on a 32-bit userland whatever
  # the kernel says; configure derives it from the compiler's macros, so RHEL-based images have it too), so the stub is made for the interpreter's own architecture and ABI (contract rule 5).
  execute_process(
    COMMAND "${_symlink_safe_python}" -c
      "import os, sys, sysconfig\nprint(getattr(sys.implementation, '_multiarch', '') or sysconfig.get_config_var('MULTIARCH') or '')\ntry:\n    import ziglang\nexcept ImportError:\n    print('')\nelse:\n    print(os.path.join(os.path.dirname(ziglang.__file__), 'zig'))"
    OUTPUT_VARIABLE _symlink_safe_probe
    RESULT_VARIABLE _symlink_safe_probe_status
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_symlink_safe_probe_status EQUAL 0)
    string(REPLACE "\n" ";" _symlink_safe_probe "${_symlink_safe_probe};")
    list(GET _symlink_safe_probe 0 _symlink_safe_multiarch)
    list(LENGTH _symlink_safe_probe _symlink_safe_probe_length)
    if(NOT _symlink_safe_zig AND _symlink_safe_probe_length GREATER 1)
      list(GET _symlink_safe_probe 1 _symlink_safe_zig)
    endif()
  endif()
endif()

set(_symlink_safe_target "${SYMLINK_SAFE_ZIG_TARGET}")
if(NOT _symlink_safe_target AND _symlink_safe_multiarch MATCHES "^([^-]+)-linux-gnu(.*)$")
  # Only for a glibc target: a musl system's stub must name the interpreter's own musl loader (rule 5), which
  # its native compiler gives. i386 is zig's x86; the ABI suffix carries over (arm-linux-gnueabihf -> musleabihf).
  set(_symlink_safe_arch "${CMAKE_MATCH_1}")
  set(_symlink_safe_abi "${CMAKE_MATCH_2}")
  if(_symlink_safe_arch MATCHES "^i[3-6]86$")
    set(_symlink_safe_arch x86)
  endif()
  set(_symlink_safe_target "${_symlink_safe_arch}-linux-musl${_symlink_safe_abi}")
endif()

if(_symlink_safe_target)
  if(NOT _symlink_safe_zig)
    find_program(SYMLINK_SAFE_ZIG_ON_PATH zig)
    if(SYMLINK_SAFE_ZIG_ON_PATH)
      set(_symlink_safe_zig "${SYMLINK_SAFE_ZIG_ON_PATH}")
    endif()
  endif()
  if(_symlink_safe_zig)
    # CMake wants one program as the compiler: a two-line wrapper gives it zig cc for the target. zig picks the
    # target's baseline CPU, never the build machine's, so the stub runs on every machine of its architecture.
    # The trailing -O2 gives every compile one optimisation mode: zig builds musl once per target and mode (minutes,
    # then cached), and CMake's compiler probes, unoptimised, would otherwise build it a second time.
    set(_symlink_safe_wrapper_dir "${CMAKE_BINARY_DIR}/zig-cc")
    file(WRITE "${_symlink_safe_wrapper_dir}/tmp/zig-cc"
      "#!/bin/sh\nexec \"${_symlink_safe_zig}\" cc -target ${_symlink_safe_target} \"$@\" -O2 -s\n")
    file(COPY "${_symlink_safe_wrapper_dir}/tmp/zig-cc" DESTINATION "${_symlink_safe_wrapper_dir}"
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
    set(CMAKE_C_COMPILER "${_symlink_safe_wrapper_dir}/zig-cc")
    set(SYMLINK_SAFE_ZIG_USED ON)
    set(SYMLINK_SAFE_ZIG_TARGET_USED "${_symlink_safe_target}")
  elseif(SYMLINK_SAFE_ZIG_TARGET)
    message(FATAL_ERROR "SYMLINK_SAFE_ZIG_TARGET=${SYMLINK_SAFE_ZIG_TARGET}, but no zig was found (pip install ziglang, or set SYMLINK_SAFE_ZIG)")
  endif()
endif()
