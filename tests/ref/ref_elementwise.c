/* ref_elementwise.c — float64 references of the elementwise family, straight
   from the formulas of include/mlxn.h, evaluated in double with libm. */
#include "ref/ref_elementwise.h"

#include <math.h>

static double gelu_tanh(double x) {
    /* the formula exactly as in mlxn.h (its cancellation for x < -10 costs at
       most ~1e-8 relative in double, far below any output rounding) */
    const double k = sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + tanh(k * (x + 0.044715 * x * x * x)));
}
static double gelu_erf(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double silu(double x) { return x * sigmoid(x); }

static double unary1(mlxn_unary_op op, double alpha, double x) {
    switch (op) {
    case MLXN_UNARY_GELU: return gelu_tanh(x);
    case MLXN_UNARY_GELU_ERF: return gelu_erf(x);
    case MLXN_UNARY_SILU: return silu(x);
    case MLXN_UNARY_SIGMOID: return sigmoid(x);
    case MLXN_UNARY_TANH: return tanh(x);
    case MLXN_UNARY_RELU: return x < 0.0 ? 0.0 : x; /* max(x, 0); NaN stays NaN */
    case MLXN_UNARY_EXP: return exp(x);
    case MLXN_UNARY_LOG: return log(x);
    case MLXN_UNARY_SCALE: return x * alpha;
    case MLXN_UNARY_SOFTCAP: return alpha * tanh(x / alpha);
    }
    return NAN;
}

void ref_unary(mlxn_unary_op op, double alpha, const double *x, double *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = unary1(op, alpha, x[i]);
}

void ref_binary(mlxn_binary_op op, const double *a, const double *b, int64_t nb, double *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const double u = a[i], v = b[i % nb];
        switch (op) {
        case MLXN_BINARY_ADD: y[i] = u + v; break;
        case MLXN_BINARY_SUB: y[i] = u - v; break;
        case MLXN_BINARY_MUL: y[i] = u * v; break;
        case MLXN_BINARY_DIV: y[i] = u / v; break;
        }
    }
}

static double act(mlxn_glu_op op, double g) {
    switch (op) {
    case MLXN_GLU_SWIGLU: return silu(g);
    case MLXN_GLU_GEGLU: return gelu_tanh(g);
    case MLXN_GLU_GEGLU_ERF: return gelu_erf(g);
    case MLXN_GLU_SIGMOID: return sigmoid(g);
    }
    return NAN;
}

void ref_glu(mlxn_glu_op op, const double *gate, const double *up, double *y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            const double g = up ? gate[r * cols + c] : gate[r * 2 * cols + c];
            const double u = up ? up[r * cols + c] : gate[r * 2 * cols + cols + c];
            y[r * cols + c] = act(op, g) * u;
        }
}
