package cputime

const rusageThread = 1 // RUSAGE_THREAD
