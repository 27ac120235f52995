/* The base of the benchmark's launcher measurement: a program that does nothing, so that only the launcher in
 * front of it counts. bench.py compiles it at run time, linked as the stub is; it is never built into the package.
 */
int main(void) {
    return 0;
}
