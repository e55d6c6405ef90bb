// The qforge executable: parses the command line and calls the library (src/cli).
#include "cli/command.h"

int main(int argc, char** argv) { return qforge::cli::Main(argc, argv); }
