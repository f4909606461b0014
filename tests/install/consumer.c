/* consumer.c — a program outside the tree that uses an installed mlxn. */
#include <mlxn.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    if (strcmp(mlxn_version(), MLXN_VERSION_STRING) != 0) {
        fprintf(stderr, "header %s, library %s\n", MLXN_VERSION_STRING, mlxn_version());
        return 1;
    }
    mlxn_device *d = NULL;
    if (mlxn_device_open(MLXN_BACKEND_CPU, 0, &d) != MLXN_OK) {
        fprintf(stderr, "%s\n", mlxn_last_error());
        return 1;
    }
    printf("consumer: mlxn %s on %s\n", mlxn_version(), mlxn_device_name(d));
    mlxn_device_close(d);
    return 0;
}
