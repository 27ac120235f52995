/* The benchmark's floor: hand over to a fixed interpreter with a fixed argv[0], looking nothing up.
 *
 * It does the least any launcher in front of CPython must do, one extra execve, so the difference
 * between it and the stub is the cost of the stub's own work. bench.py compiles it at run time, once
 * per interpreter, with the two paths given as macros: it is never built into the package.
 */
#include <unistd.h>

#if !defined(BASE) || !defined(ARGV0)
#error "compile with -DBASE='\"/base/python\"' -DARGV0='\"/env/bin/python\"'"
#endif

extern char **environ;

int main(int argc, char **argv) {
    (void)argc;
    argv[0] = (char *)ARGV0;
    execve(BASE, argv, environ);
    return 127;
}
