// mqlab: one binary, many subcommands (DESIGN.md § Processes). Everything lives in the library;
// main only hands over to the CLI.
#include "cli/commands.h"

int main(int argc, char** argv) { return mqlab::cli::Main(argc, argv); }
