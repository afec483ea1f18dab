/* SPDX-License-Identifier: MIT */
/*
 * The "vulkan" backend module (libqnt-vulkan.so): compute shaders for
 * quantize, dequantize and the matrix product with float activations.
 *
 *   dequantize  every format of the registry: f32 f16 bf16, the legacy
 *               formats, q8_1, the k-quants and q8_K, the i-quants (their
 *               grids are lib/core/iquants_tables.c, compiled into the
 *               module and uploaded to a storage buffer), tq1_0 tq2_0
 *               mxfp4 nvfp4 q1_0 q2_0, and the MLX formats (affine 2-8
 *               bits, mxfp4, mxfp8, nvfp4; f32/f16/bf16 scales): the floats
 *               of the scalar reference, bit for bit (the shaders do the
 *               reference's IEEE operations in its order, marked `precise`,
 *               so no multiply-add is fused; scalings whose result may be
 *               subnormal are built from the bits).
 *   matmul      the same formats, y = W x against the float activations
 *               (matmul_xq_type says QNT_TYPE_INVALID): within the
 *               reference's tolerance, not bit-equal.
 *   quantize    q4_0 q4_1 q5_0 q5_1 q8_0 and the MLX affine formats
 *               without importance (ggml's round-to-nearest; MLX's rule): the
 *               reference's bytes (divisions done in integers, correctly
 *               rounded). Importance weights, and rows with values that are
 *               not finite (in the MLX element type) or that could lead
 *               the shader into subnormals (device_safe), go to the
 *               reference on the host; other formats: supports() says 0.
 *               So do MLX affine rows to dequantize whose f32 or bf16
 *               scales or biases are tiny (affine_tiny): NVIDIA's driver
 *               flushes 32-bit subnormals.
 *
 * The Vulkan loader is opened with dlopen("libvulkan.so.1") on first use and
 * every entry point comes from vkGetInstanceProcAddr, so the module loads
 * where no loader is installed and then scores 0, saying why. The SPIR-V is
 * compiled from shaders/ at build time and embedded.
 *
 * Devices: every physical device with a compute queue, in the loader's
 * order. score() rates the best one: a discrete GPU 1 << 20 | 3, an
 * integrated or virtual one 1 << 20 | 2, anything else (lavapipe, a CPU
 * rasterizer) 5, below the CPU backends.
 *
 * Memory: every buffer is host-visible and coherent (device-local as well
 * where a memory type offers both), mapped for its lifetime; buffer_write
 * and buffer_read are memcpy. Host operands go through staging buffers the
 * state keeps and grows. Jobs run synchronously: a call returns when the
 * device is done. One mutex serialises the calls on a state.
 */
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include "libqnt_backend.h"

#include "iquants_tables.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define VKB_EXPORT __attribute__((visibility("default")))

VKB_EXPORT const qnt_backend_vtbl *qnt_backend_entry(uint32_t host_abi, const qnt_host_api *host);

static const uint32_t spv_dequant[] =
#include "dequant.spv.h"
	;
static const uint32_t spv_matmul[] =
#include "matmul.spv.h"
	;
static const uint32_t spv_quant[] =
#include "quant.spv.h"
	;

/* ------------------------------------------------------------------ */
/* The loader                                                           */
/* ------------------------------------------------------------------ */

#define VK_FNS(X)                                                    \
	X(vkDestroyInstance)                                         \
	X(vkEnumeratePhysicalDevices)                                \
	X(vkGetPhysicalDeviceProperties)                             \
	X(vkGetPhysicalDeviceQueueFamilyProperties)                  \
	X(vkGetPhysicalDeviceMemoryProperties)                       \
	X(vkCreateDevice)                                            \
	X(vkDestroyDevice)                                           \
	X(vkGetDeviceQueue)                                          \
	X(vkCreateBuffer)                                            \
	X(vkDestroyBuffer)                                           \
	X(vkGetBufferMemoryRequirements)                             \
	X(vkAllocateMemory)                                          \
	X(vkFreeMemory)                                              \
	X(vkBindBufferMemory)                                        \
	X(vkMapMemory)                                               \
	X(vkCreateShaderModule)                                      \
	X(vkDestroyShaderModule)                                     \
	X(vkCreateDescriptorSetLayout)                               \
	X(vkDestroyDescriptorSetLayout)                              \
	X(vkCreatePipelineLayout)                                    \
	X(vkDestroyPipelineLayout)                                   \
	X(vkCreateComputePipelines)                                  \
	X(vkDestroyPipeline)                                         \
	X(vkCreateDescriptorPool)                                    \
	X(vkDestroyDescriptorPool)                                   \
	X(vkAllocateDescriptorSets)                                  \
	X(vkUpdateDescriptorSets)                                    \
	X(vkCreateCommandPool)                                       \
	X(vkDestroyCommandPool)                                      \
	X(vkAllocateCommandBuffers)                                  \
	X(vkBeginCommandBuffer)                                      \
	X(vkEndCommandBuffer)                                        \
	X(vkResetCommandBuffer)                                      \
	X(vkCmdBindPipeline)                                         \
	X(vkCmdBindDescriptorSets)                                   \
	X(vkCmdPushConstants)                                        \
	X(vkCmdDispatch)                                             \
	X(vkQueueSubmit)                                             \
	X(vkCreateFence)                                             \
	X(vkDestroyFence)                                            \
	X(vkWaitForFences)                                           \
	X(vkResetFences)

struct vk_fns {
	PFN_vkGetInstanceProcAddr getInstanceProcAddr;
	PFN_vkCreateInstance vkCreateInstance;
#define DECL(f) PFN_##f f;
	VK_FNS(DECL)
#undef DECL
};

static pthread_once_t loader_once = PTHREAD_ONCE_INIT;
static void *loader;
static char loader_err[200];
static PFN_vkGetInstanceProcAddr gipa;

static void open_loader(void)
{
	loader = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!loader) {
		const char *e = dlerror();
		snprintf(loader_err, sizeof loader_err, "no Vulkan loader: %s", e ? e : "dlopen failed");
		return;
	}
	void *sym = dlsym(loader, "vkGetInstanceProcAddr");
	memcpy(&gipa, &sym, sizeof gipa); /* object to function pointer, as POSIX allows */
	if (!gipa)
		snprintf(loader_err, sizeof loader_err, "libvulkan.so.1 has no vkGetInstanceProcAddr");
}

/* An instance with its entry points; 0 and a reason if none can be made. */
static int make_instance(VkInstance *inst, struct vk_fns *f, char *why, size_t why_size)
{
	pthread_once(&loader_once, open_loader);
	if (!gipa) {
		snprintf(why, why_size, "%s", loader_err);
		return 0;
	}
	memset(f, 0, sizeof *f);
	f->getInstanceProcAddr = gipa;
	f->vkCreateInstance = (PFN_vkCreateInstance)gipa(NULL, "vkCreateInstance");
	if (!f->vkCreateInstance) {
		snprintf(why, why_size, "the Vulkan loader lacks vkCreateInstance");
		return 0;
	}
	VkApplicationInfo app = { .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
				  .pApplicationName = "libqnt",
				  .pEngineName = "libqnt",
				  .apiVersion = VK_API_VERSION_1_0 };
	VkInstanceCreateInfo ci = { .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app };
	VkResult r = f->vkCreateInstance(&ci, NULL, inst);
	if (r != VK_SUCCESS) {
		snprintf(why, why_size, "vkCreateInstance failed (VkResult %d): no Vulkan driver (ICD) usable",
			 (int)r);
		return 0;
	}
#define LOAD(fn)                                                                               \
	if (!(f->fn = (PFN_##fn)gipa(*inst, #fn))) {                                           \
		snprintf(why, why_size, "the Vulkan loader lacks %s", #fn);                     \
		if (f->vkDestroyInstance)                                                      \
			f->vkDestroyInstance(*inst, NULL);                                    \
		return 0;                                                                      \
	}
	VK_FNS(LOAD)
#undef LOAD
	return 1;
}

/* Index of a queue family with compute, or -1. */
static int compute_family(const struct vk_fns *f, VkPhysicalDevice pd)
{
	uint32_t n = 0;
	f->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
	VkQueueFamilyProperties q[16];
	if (n > 16)
		n = 16;
	f->vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
	for (uint32_t i = 0; i < n; i++)
		if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
			return (int)i;
	return -1;
}

#define MAX_DEVICES 16

/* The physical devices with a compute queue, in the loader's order. */
static uint32_t compute_devices(const struct vk_fns *f, VkInstance inst, VkPhysicalDevice *out)
{
	VkPhysicalDevice all[MAX_DEVICES];
	uint32_t n = MAX_DEVICES, k = 0;
	if (f->vkEnumeratePhysicalDevices(inst, &n, all) < 0)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (compute_family(f, all[i]) >= 0)
			out[k++] = all[i];
	return k;
}

static int32_t device_score(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
		return (1 << 20) | 3;
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
		return (1 << 20) | 2;
	default:
		return 5; /* a CPU device (lavapipe): below the CPU backends */
	}
}

static const char *device_type_name(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
		return "discrete GPU";
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
		return "integrated GPU";
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
		return "virtual GPU";
	case VK_PHYSICAL_DEVICE_TYPE_CPU:
		return "CPU";
	default:
		return "other";
	}
}

/* ------------------------------------------------------------------ */
/* Formats                                                              */
/* ------------------------------------------------------------------ */

/* A format as the shaders see it: the format code (shaders/decode.glsl,
 * specialization constant 0: one pipeline per code) and, for the MLX
 * formats, the code width, group size and element type of the scales (0
 * f32, 1 f16, 2 bf16), pushed with each dispatch. */
struct vk_fmt {
	uint32_t code, bits, group, dt;
};

#define F_Q8_0 7u
#define F_MLX_AFFINE 30u
#define F_MLX_MXFP4 31u
#define F_MLX_MXFP8 32u
#define F_MLX_NVFP4 33u

/* The MLX registry formats by name ("mlx:affine:<bits>:<group>[:f32|:f16]",
 * "mlx:mxfp4", "mlx:mxfp8", "mlx:nvfp4", same suffixes; no suffix: bf16):
 * the name is public (qnt_type_get_info), its id arithmetic is not. */
static int mlx_fmt(const char *name, struct vk_fmt *f)
{
	char mode[16] = "", dt[8] = "bf16";
	unsigned bits = 0, group = 0;
	int n = 0;
	if (strncmp(name, "mlx:", 4) != 0)
		return 0;
	name += 4;
	if (sscanf(name, "affine:%u:%u%n", &bits, &group, &n) == 2) {
		snprintf(mode, sizeof mode, "affine");
	} else if (sscanf(name, "%15[a-z0-9]%n", mode, &n) != 1) {
		return 0;
	}
	name += n;
	if (*name == ':' && sscanf(name, ":%7[a-z0-9]%n", dt, &n) == 1)
		name += n;
	if (*name)
		return 0;
	f->dt = strcmp(dt, "f32") == 0 ? 0 : strcmp(dt, "f16") == 0 ? 1 : strcmp(dt, "bf16") == 0 ? 2 : 3;
	if (f->dt > 2)
		return 0;
	if (strcmp(mode, "affine") == 0) {
		if (bits < 2 || bits > 8 || bits == 7 || (group != 32 && group != 64 && group != 128))
			return 0;
		f->code = F_MLX_AFFINE;
		f->bits = bits;
		f->group = group;
		return 1;
	}
	f->code = strcmp(mode, "mxfp4") == 0 ? F_MLX_MXFP4 : strcmp(mode, "mxfp8") == 0 ? F_MLX_MXFP8
		: strcmp(mode, "nvfp4") == 0 ? F_MLX_NVFP4 : 0;
	f->bits = f->code == F_MLX_MXFP8 ? 8 : 4;
	f->group = f->code == F_MLX_NVFP4 ? 16 : 32;
	return f->code != 0;
}

/* qnt_type -> the shaders' format; 0 if they do not decode it. */
static int fmt_of(const qnt_host_api *host, qnt_type t, struct vk_fmt *f)
{
	static const struct {
		qnt_type type;
		uint32_t code;
	} ggml[] = {
		{ QNT_TYPE_F32, 0 },      { QNT_TYPE_F16, 1 },     { QNT_TYPE_BF16, 2 },     { QNT_TYPE_Q4_0, 3 },
		{ QNT_TYPE_Q4_1, 4 },     { QNT_TYPE_Q5_0, 5 },    { QNT_TYPE_Q5_1, 6 },     { QNT_TYPE_Q8_0, 7 },
		{ QNT_TYPE_Q2_K, 8 },     { QNT_TYPE_Q3_K, 9 },    { QNT_TYPE_Q4_K, 10 },    { QNT_TYPE_Q5_K, 11 },
		{ QNT_TYPE_Q6_K, 12 },    { QNT_TYPE_Q8_K, 13 },   { QNT_TYPE_Q8_1, 14 },    { QNT_TYPE_IQ2_XXS, 15 },
		{ QNT_TYPE_IQ2_XS, 16 },  { QNT_TYPE_IQ2_S, 17 },  { QNT_TYPE_IQ3_XXS, 18 }, { QNT_TYPE_IQ3_S, 19 },
		{ QNT_TYPE_IQ1_S, 20 },   { QNT_TYPE_IQ1_M, 21 },  { QNT_TYPE_IQ4_NL, 22 },  { QNT_TYPE_IQ4_XS, 23 },
		{ QNT_TYPE_TQ1_0, 24 },   { QNT_TYPE_TQ2_0, 25 },  { QNT_TYPE_MXFP4, 26 },   { QNT_TYPE_NVFP4, 27 },
		{ QNT_TYPE_Q1_0, 28 },    { QNT_TYPE_Q2_0, 29 },
	};
	*f = (struct vk_fmt){ 0, 4, 64, 2 };
	for (size_t i = 0; i < sizeof ggml / sizeof ggml[0]; i++)
		if (ggml[i].type == t) {
			f->code = ggml[i].code;
			return 1;
		}
	qnt_type_info ti = QNT_TYPE_INFO_INIT;
	return host->type_info(t, &ti) == QNT_OK && ti.name && mlx_fmt(ti.name, f);
}

/* The i-quant grids in the order of shaders/decode.glsl (T_IQ2XXS ...),
 * one code per 32-bit word. */
#define N_GRID_WORDS 4608
static const struct {
	const uint16_t *codes;
	uint32_t n;
} grids[] = { { qnt__iq2xxs_codes, 256 }, { qnt__iq2xs_codes, 512 },  { qnt__iq2s_codes, 1024 },
	      { qnt__iq1s_codes, 2048 },  { qnt__iq3xxs_codes, 256 }, { qnt__iq3s_codes, 512 } };
_Static_assert(sizeof qnt__iq2xxs_codes / 2 == 256 && sizeof qnt__iq2xs_codes / 2 == 512 &&
		       sizeof qnt__iq2s_codes / 2 == 1024 && sizeof qnt__iq1s_codes / 2 == 2048 &&
		       sizeof qnt__iq3xxs_codes / 2 == 256 && sizeof qnt__iq3s_codes / 2 == 512,
	       "grid sizes as shaders/decode.glsl lays them out");

/* ------------------------------------------------------------------ */
/* State                                                                */
/* ------------------------------------------------------------------ */

struct qnt_buffer {
	VkBuffer buf;
	VkDeviceMemory mem;
	void *map;
	uint64_t size;
};

enum { STAGE_W, STAGE_X, STAGE_Y, N_STAGE };
enum { OP_DEQUANT, OP_MATMUL, OP_QUANT, N_OPS };
#define N_CODES 34 /* format codes of the shaders */

struct vk_state {
	const qnt_host_api *host;
	struct vk_fns f;
	VkInstance inst;
	VkPhysicalDevice pd;
	VkPhysicalDeviceProperties props;
	VkPhysicalDeviceMemoryProperties memprops;
	uint32_t mem_type;
	uint64_t mem_total;
	uint64_t max_bytes; /* MAX_BYTES or the device's maxStorageBufferRange */
	VkDevice dev;
	VkQueue queue;
	VkDescriptorSetLayout dsl;
	VkPipelineLayout pl;
	VkShaderModule mod[N_OPS];
	VkPipeline pipe[N_OPS][N_CODES]; /* made on first use */
	struct qnt_buffer grid; /* the i-quant grids (binding 3) */
	VkDescriptorPool dpool;
	VkDescriptorSet ds;
	VkCommandPool cpool;
	VkCommandBuffer cmd;
	VkFence fence;
	struct qnt_buffer stage[N_STAGE]; /* grown on demand */
	pthread_mutex_t mu;
	char desc[256];
};

/* Largest bound range: the shaders index with 32 bits; the device's
 * maxStorageBufferRange may cap it further (vk_state.max_bytes). */
#define MAX_BYTES ((uint64_t)1 << 31)

static qnt_status buf_create(struct vk_state *s, uint64_t size, struct qnt_buffer *b)
{
	memset(b, 0, sizeof *b);
	if (size == 0)
		size = 4;
	size = (size + 15) & ~(uint64_t)15;
	VkBufferCreateInfo bi = { .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
				  .size = size,
				  .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
				  .sharingMode = VK_SHARING_MODE_EXCLUSIVE };
	if (s->f.vkCreateBuffer(s->dev, &bi, NULL, &b->buf) != VK_SUCCESS)
		return QNT_E_NO_MEMORY;
	VkMemoryRequirements req;
	s->f.vkGetBufferMemoryRequirements(s->dev, b->buf, &req);
	if (!(req.memoryTypeBits & (1u << s->mem_type))) {
		s->f.vkDestroyBuffer(s->dev, b->buf, NULL);
		return QNT_E_BACKEND;
	}
	VkMemoryAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
				    .allocationSize = req.size,
				    .memoryTypeIndex = s->mem_type };
	if (s->f.vkAllocateMemory(s->dev, &ai, NULL, &b->mem) != VK_SUCCESS) {
		s->f.vkDestroyBuffer(s->dev, b->buf, NULL);
		return QNT_E_NO_MEMORY;
	}
	if (s->f.vkBindBufferMemory(s->dev, b->buf, b->mem, 0) != VK_SUCCESS ||
	    s->f.vkMapMemory(s->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map) != VK_SUCCESS) {
		s->f.vkDestroyBuffer(s->dev, b->buf, NULL);
		s->f.vkFreeMemory(s->dev, b->mem, NULL);
		return QNT_E_BACKEND;
	}
	b->size = size;
	return QNT_OK;
}

static void buf_destroy(struct vk_state *s, struct qnt_buffer *b)
{
	if (b->buf)
		s->f.vkDestroyBuffer(s->dev, b->buf, NULL);
	if (b->mem)
		s->f.vkFreeMemory(s->dev, b->mem, NULL); /* unmaps */
	memset(b, 0, sizeof *b);
}

/* A staging buffer of at least `size` bytes. */
static qnt_status stage(struct vk_state *s, int which, uint64_t size, struct qnt_buffer **out)
{
	struct qnt_buffer *b = &s->stage[which];
	if (b->size < size) {
		buf_destroy(s, b);
		qnt_status st = buf_create(s, size + size / 4, b);
		if (st != QNT_OK)
			return st;
	}
	*out = b;
	return QNT_OK;
}

static void state_free(struct vk_state *s)
{
	if (s->dev) {
		for (int i = 0; i < N_STAGE; i++)
			buf_destroy(s, &s->stage[i]);
		buf_destroy(s, &s->grid);
		if (s->fence)
			s->f.vkDestroyFence(s->dev, s->fence, NULL);
		if (s->cpool)
			s->f.vkDestroyCommandPool(s->dev, s->cpool, NULL);
		if (s->dpool)
			s->f.vkDestroyDescriptorPool(s->dev, s->dpool, NULL);
		for (int o = 0; o < N_OPS; o++) {
			for (int i = 0; i < N_CODES; i++)
				if (s->pipe[o][i])
					s->f.vkDestroyPipeline(s->dev, s->pipe[o][i], NULL);
			if (s->mod[o])
				s->f.vkDestroyShaderModule(s->dev, s->mod[o], NULL);
		}
		if (s->pl)
			s->f.vkDestroyPipelineLayout(s->dev, s->pl, NULL);
		if (s->dsl)
			s->f.vkDestroyDescriptorSetLayout(s->dev, s->dsl, NULL);
		s->f.vkDestroyDevice(s->dev, NULL);
	}
	if (s->inst)
		s->f.vkDestroyInstance(s->inst, NULL);
	pthread_mutex_destroy(&s->mu);
	s->host->free(s);
}

static VkShaderModule make_module(struct vk_state *s, const uint32_t *code, size_t size)
{
	VkShaderModuleCreateInfo mi = { .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
					.codeSize = size,
					.pCode = code };
	VkShaderModule mod;
	if (s->f.vkCreateShaderModule(s->dev, &mi, NULL, &mod) != VK_SUCCESS)
		return VK_NULL_HANDLE;
	return mod;
}

/* The pipeline of `op` for format code `code` (the shaders'
 * specialization constant 0), made on first use; VK_NULL_HANDLE if that
 * fails. Called with the state's mutex held. */
static VkPipeline pipeline(struct vk_state *s, int op, uint32_t code)
{
	if (code >= N_CODES)
		return VK_NULL_HANDLE;
	if (s->pipe[op][code])
		return s->pipe[op][code];
	VkSpecializationMapEntry me = { .constantID = 0, .offset = 0, .size = sizeof code };
	VkSpecializationInfo spec = { .mapEntryCount = 1, .pMapEntries = &me, .dataSize = sizeof code, .pData = &code };
	VkComputePipelineCreateInfo pi = {
		.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
		.stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
			   .stage = VK_SHADER_STAGE_COMPUTE_BIT,
			   .module = s->mod[op],
			   .pName = "main",
			   .pSpecializationInfo = &spec },
		.layout = s->pl,
	};
	VkPipeline p = VK_NULL_HANDLE;
	if (s->f.vkCreateComputePipelines(s->dev, VK_NULL_HANDLE, 1, &pi, NULL, &p) != VK_SUCCESS)
		return VK_NULL_HANDLE;
	s->pipe[op][code] = p;
	return p;
}

/* Host-visible, coherent memory; device-local as well where offered. */
static int pick_memory(struct vk_state *s)
{
	const VkMemoryPropertyFlags need = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
	int best = -1;
	for (uint32_t i = 0; i < s->memprops.memoryTypeCount; i++) {
		VkMemoryPropertyFlags fl = s->memprops.memoryTypes[i].propertyFlags;
		if ((fl & need) != need)
			continue;
		if (best < 0 || ((fl & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) &&
				 !(s->memprops.memoryTypes[best].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)))
			best = (int)i;
	}
	if (best < 0)
		return 0;
	s->mem_type = (uint32_t)best;
	s->mem_total = s->memprops.memoryHeaps[s->memprops.memoryTypes[best].heapIndex].size;
	return 1;
}

static qnt_status vk_open(const qnt_host_api *host, int32_t device, void **state)
{
	char why[256];
	struct vk_state *s = host->alloc(sizeof *s, 64);
	if (!s)
		return QNT_E_NO_MEMORY;
	memset(s, 0, sizeof *s);
	s->host = host;
	pthread_mutex_init(&s->mu, NULL);
	if (!make_instance(&s->inst, &s->f, why, sizeof why)) {
		host->log(QNT_LOG_ERROR, "vulkan: %s", why);
		s->inst = VK_NULL_HANDLE;
		state_free(s);
		return QNT_E_BACKEND;
	}
	VkPhysicalDevice pds[MAX_DEVICES];
	uint32_t n = compute_devices(&s->f, s->inst, pds);
	if (device < 0 || (uint32_t)device >= n) {
		host->log(QNT_LOG_ERROR, "vulkan: no device %d (%u with a compute queue)", (int)device, (unsigned)n);
		state_free(s);
		return QNT_E_NOT_FOUND;
	}
	s->pd = pds[device];
	s->f.vkGetPhysicalDeviceProperties(s->pd, &s->props);
	s->f.vkGetPhysicalDeviceMemoryProperties(s->pd, &s->memprops);
	s->max_bytes = s->props.limits.maxStorageBufferRange < MAX_BYTES ? s->props.limits.maxStorageBufferRange
									 : MAX_BYTES;
	snprintf(s->desc, sizeof s->desc, "%.200s (%s, Vulkan %u.%u)", s->props.deviceName,
		 device_type_name(s->props.deviceType), VK_VERSION_MAJOR(s->props.apiVersion),
		 VK_VERSION_MINOR(s->props.apiVersion));
	if (!pick_memory(s)) {
		host->log(QNT_LOG_ERROR, "vulkan: %s has no host-visible coherent memory", s->props.deviceName);
		state_free(s);
		return QNT_E_BACKEND;
	}
	const uint32_t qf = (uint32_t)compute_family(&s->f, s->pd);
	const float prio = 1.0f;
	VkDeviceQueueCreateInfo qi = { .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
				       .queueFamilyIndex = qf,
				       .queueCount = 1,
				       .pQueuePriorities = &prio };
	VkDeviceCreateInfo di = { .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
				  .queueCreateInfoCount = 1,
				  .pQueueCreateInfos = &qi };
	if (s->f.vkCreateDevice(s->pd, &di, NULL, &s->dev) != VK_SUCCESS) {
		s->dev = VK_NULL_HANDLE;
		host->log(QNT_LOG_ERROR, "vulkan: vkCreateDevice failed on %s", s->props.deviceName);
		state_free(s);
		return QNT_E_BACKEND;
	}
	s->f.vkGetDeviceQueue(s->dev, qf, 0, &s->queue);

	VkDescriptorSetLayoutBinding bind[4];
	for (uint32_t i = 0; i < 4; i++)
		bind[i] = (VkDescriptorSetLayoutBinding){ .binding = i,
							  .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
							  .descriptorCount = 1,
							  .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT };
	VkDescriptorSetLayoutCreateInfo li = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
					       .bindingCount = 4,
					       .pBindings = bind };
	VkPushConstantRange pcr = { .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = 64 };
	VkDescriptorPoolSize psz = { .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 4 };
	VkDescriptorPoolCreateInfo dpi = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
					   .maxSets = 1,
					   .poolSizeCount = 1,
					   .pPoolSizes = &psz };
	VkCommandPoolCreateInfo cpi = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
					.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
					.queueFamilyIndex = qf };
	VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	int ok = s->f.vkCreateDescriptorSetLayout(s->dev, &li, NULL, &s->dsl) == VK_SUCCESS;
	if (ok) {
		VkPipelineLayoutCreateInfo pli = { .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
						   .setLayoutCount = 1,
						   .pSetLayouts = &s->dsl,
						   .pushConstantRangeCount = 1,
						   .pPushConstantRanges = &pcr };
		ok = s->f.vkCreatePipelineLayout(s->dev, &pli, NULL, &s->pl) == VK_SUCCESS;
	}
	ok = ok && (s->mod[OP_DEQUANT] = make_module(s, spv_dequant, sizeof spv_dequant)) != VK_NULL_HANDLE;
	ok = ok && (s->mod[OP_MATMUL] = make_module(s, spv_matmul, sizeof spv_matmul)) != VK_NULL_HANDLE;
	ok = ok && (s->mod[OP_QUANT] = make_module(s, spv_quant, sizeof spv_quant)) != VK_NULL_HANDLE;
	ok = ok && s->f.vkCreateDescriptorPool(s->dev, &dpi, NULL, &s->dpool) == VK_SUCCESS;
	if (ok) {
		VkDescriptorSetAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
						   .descriptorPool = s->dpool,
						   .descriptorSetCount = 1,
						   .pSetLayouts = &s->dsl };
		ok = s->f.vkAllocateDescriptorSets(s->dev, &ai, &s->ds) == VK_SUCCESS;
	}
	ok = ok && s->f.vkCreateCommandPool(s->dev, &cpi, NULL, &s->cpool) == VK_SUCCESS;
	if (ok) {
		VkCommandBufferAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
						   .commandPool = s->cpool,
						   .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
						   .commandBufferCount = 1 };
		ok = s->f.vkAllocateCommandBuffers(s->dev, &ai, &s->cmd) == VK_SUCCESS;
	}
	ok = ok && s->f.vkCreateFence(s->dev, &fi, NULL, &s->fence) == VK_SUCCESS;
	ok = ok && buf_create(s, N_GRID_WORDS * 4, &s->grid) == QNT_OK;
	if (ok) {
		uint32_t *g = s->grid.map;
		for (size_t k = 0; k < sizeof grids / sizeof grids[0]; k++)
			for (uint32_t j = 0; j < grids[k].n; j++)
				*g++ = grids[k].codes[j];
	}
	if (!ok) {
		host->log(QNT_LOG_ERROR, "vulkan: cannot create the compute shaders on %s", s->props.deviceName);
		state_free(s);
		return QNT_E_BACKEND;
	}
	host->log(QNT_LOG_DEBUG, "vulkan: opened device %d: %s", (int)device, s->desc);
	*state = s;
	return QNT_OK;
}

static void vk_close(void *state)
{
	state_free(state);
}

static int32_t vk_device_count(void *state)
{
	struct vk_state *s = state;
	VkPhysicalDevice pds[MAX_DEVICES];
	return (int32_t)compute_devices(&s->f, s->inst, pds);
}

static qnt_status vk_device_props(void *state, int32_t device, qnt_device_props *props)
{
	struct vk_state *s = state;
	VkPhysicalDevice pds[MAX_DEVICES];
	uint32_t n = compute_devices(&s->f, s->inst, pds);
	if (device < 0 || (uint32_t)device >= n)
		return QNT_E_NOT_FOUND;
	if (!props || props->struct_size < sizeof *props)
		return QNT_E_INVALID_ARG;
	if (pds[device] != s->pd)
		return QNT_E_UNSUPPORTED; /* only the device this state opened is described */
	props->kind = s->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? QNT_DEVICE_CPU : QNT_DEVICE_GPU;
	props->memory_total = s->mem_total;
	props->memory_free = 0;
	props->caps = QNT_BACKEND_CAP_DEVICE_MEMORY | QNT_BACKEND_CAP_UNIFIED_MEMORY;
	props->reserved = 0;
	props->name = s->props.deviceName;
	props->description = s->desc;
	return QNT_OK;
}

/* The formats shaders/quant.comp writes: q4_0 q4_1 q5_0 q5_1 q8_0 (codes
 * 3-7) and MLX affine. */
static int quantizes(const struct vk_fmt *f)
{
	return (f->code >= 3 && f->code <= F_Q8_0) || f->code == F_MLX_AFFINE;
}

static int32_t vk_supports(void *state, qnt_type type, uint32_t op)
{
	struct vk_state *s = state;
	struct vk_fmt f;
	if (op == QNT_OP_QUANTIZE)
		return fmt_of(s->host, type, &f) && quantizes(&f);
	return (op == QNT_OP_DEQUANTIZE || op == QNT_OP_MATMUL) && fmt_of(s->host, type, &f);
}

/* ------------------------------------------------------------------ */
/* Running a shader                                                     */
/* ------------------------------------------------------------------ */

/* Binds W, X, Y (X may repeat W) to the pipeline of `op` for `fmt`, pushes
 * `pc`, dispatches gx x gy groups and waits. */
static qnt_status run(struct vk_state *s, int op, const struct vk_fmt *fmt, struct qnt_buffer *w,
		      struct qnt_buffer *x, struct qnt_buffer *y, const uint32_t *pc, uint32_t pc_words, uint32_t gx,
		      uint32_t gy)
{
	VkPipeline pipe = pipeline(s, op, fmt->code);
	if (!pipe) {
		s->host->log(QNT_LOG_ERROR, "vulkan: cannot create the pipeline of shader %d for format code %u", op,
			     (unsigned)fmt->code);
		return QNT_E_BACKEND;
	}
	VkDescriptorBufferInfo bi[4] = { { w->buf, 0, VK_WHOLE_SIZE },
					 { x->buf, 0, VK_WHOLE_SIZE },
					 { y->buf, 0, VK_WHOLE_SIZE },
					 { s->grid.buf, 0, VK_WHOLE_SIZE } };
	VkWriteDescriptorSet wr[4];
	for (uint32_t i = 0; i < 4; i++)
		wr[i] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
						.dstSet = s->ds,
						.dstBinding = i,
						.descriptorCount = 1,
						.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
						.pBufferInfo = &bi[i] };
	s->f.vkUpdateDescriptorSets(s->dev, 4, wr, 0, NULL);
	VkCommandBufferBeginInfo cbi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
					 .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
	if (s->f.vkResetCommandBuffer(s->cmd, 0) != VK_SUCCESS || s->f.vkBeginCommandBuffer(s->cmd, &cbi) != VK_SUCCESS)
		return QNT_E_BACKEND;
	s->f.vkCmdBindPipeline(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
	s->f.vkCmdBindDescriptorSets(s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->pl, 0, 1, &s->ds, 0, NULL);
	s->f.vkCmdPushConstants(s->cmd, s->pl, VK_SHADER_STAGE_COMPUTE_BIT, 0, pc_words * 4, pc);
	s->f.vkCmdDispatch(s->cmd, gx, gy, 1);
	if (s->f.vkEndCommandBuffer(s->cmd) != VK_SUCCESS)
		return QNT_E_BACKEND;
	VkSubmitInfo si = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &s->cmd };
	if (s->f.vkResetFences(s->dev, 1, &s->fence) != VK_SUCCESS ||
	    s->f.vkQueueSubmit(s->queue, 1, &si, s->fence) != VK_SUCCESS ||
	    s->f.vkWaitForFences(s->dev, 1, &s->fence, VK_TRUE, UINT64_MAX) != VK_SUCCESS)
		return QNT_E_BACKEND;
	return QNT_OK;
}

/* An operand as (buffer, byte offset): a device buffer as it is, host
 * memory copied into staging buffer `which` when `copy_in`. */
static qnt_status operand(struct vk_state *s, const qnt_mem *m, int which, uint64_t off, uint64_t size, int copy_in,
			  struct qnt_buffer **buf, uint64_t *buf_off)
{
	if (m->buffer) {
		if (m->offset > UINT64_MAX - off || m->offset + off > m->buffer->size ||
		    size > m->buffer->size - (m->offset + off))
			return QNT_E_INVALID_ARG;
		*buf = m->buffer;
		*buf_off = m->offset + off;
		return QNT_OK;
	}
	if (!m->host)
		return QNT_E_INVALID_ARG;
	qnt_status st = stage(s, which, size, buf);
	if (st != QNT_OK)
		return st;
	if (copy_in)
		memcpy((*buf)->map, (const char *)m->host + off, size);
	*buf_off = 0;
	return QNT_OK;
}

static uint32_t groups(uint64_t items, uint32_t per_group)
{
	uint64_t g = (items + per_group - 1) / per_group;
	return g > 65535 ? 65535 : g < 1 ? 1 : (uint32_t)g;
}

/* Rows per dispatch: each dispatch's bytes and element indices stay below
 * MAX_BYTES (the shaders index with 32 bits). */
static int64_t rows_per_pass(const struct vk_state *s, uint64_t bytes_per_row)
{
	uint64_t r = s->max_bytes / (bytes_per_row ? bytes_per_row : 1);
	return r < 1 ? 1 : (int64_t)r;
}

/* The host address of an operand (buffers are mapped for their lifetime). */
static void *mem_ptr(const qnt_mem *m)
{
	return m->buffer ? (char *)m->buffer->map + m->offset : m->host;
}

/* Below this, a value may lead a shader's arithmetic into subnormals,
 * which some drivers flush to zero: NVIDIA's does (an H100, driver 580,
 * which does not report shaderDenormPreserveFloat32; lavapipe keeps them),
 * and the reference does not. */
#define TINY 0x1p-90f

/* Whether an MLX affine block of these rows has an f32 or bf16 scale or
 * bias that is nonzero and below TINY. Otherwise the shader's q s (q >= 1)
 * and b are 0 or at least TINY in magnitude and multiples of 2^-113, and so
 * is their sum: no operand or result is subnormal. f16 scales and biases
 * are multiples of 2^-24, and so are the values made from them. */
static int affine_tiny(const uint8_t *w, size_t rs, int64_t nrows, int64_t n, const struct vk_fmt *f)
{
	if (f->code != F_MLX_AFFINE || f->dt == 1)
		return 0;
	const size_t ds = f->dt == 0 ? 4 : 2, cb = (size_t)f->group * f->bits / 8;
	for (int64_t r = 0; r < nrows; r++)
		for (int64_t g = 0; g < n / f->group; g++) {
			const uint8_t *e = w + (size_t)r * rs + (size_t)g * (cb + 2 * ds) + cb;
			for (int k = 0; k < 2; k++, e += ds) {
				uint32_t u = 0;
				if (ds == 4)
					memcpy(&u, e, 4);
				else
					u = (uint32_t)(e[0] | e[1] << 8) << 16;
				float v;
				memcpy(&v, &u, sizeof v);
				if (v != 0.0f && fabsf(v) < TINY)
					return 1;
			}
		}
	return 0;
}

static qnt_status vk_dequantize(void *state, const qnt_kernel_job *job)
{
	struct vk_state *s = state;
	if (!job || job->struct_size < sizeof *job || job->op != QNT_OP_DEQUANTIZE)
		return QNT_E_INVALID_ARG;
	struct vk_fmt fmt;
	if (!fmt_of(s->host, job->type, &fmt))
		return QNT_E_UNSUPPORTED;
	const size_t rs = s->host->row_size(job->type, job->n_per_row);
	if (rs == 0 || job->row_begin < 0 || job->row_end > job->nrows || job->row_begin > job->row_end)
		return QNT_E_INVALID_ARG;
	if (job->dst.buffer && (job->dst.offset & 3u))
		return QNT_E_INVALID_ARG;
	const uint64_t frow = (uint64_t)job->n_per_row * sizeof(float);
	if ((!job->src.buffer && !job->src.host) || (!job->dst.buffer && !job->dst.host) ||
	    (job->src.buffer && job->src.offset + (uint64_t)job->row_end * rs > job->src.buffer->size) ||
	    (job->dst.buffer && job->dst.offset + (uint64_t)job->row_end * frow > job->dst.buffer->size))
		return QNT_E_INVALID_ARG;
	/* subnormal scales or biases: the reference on the host (buffers are
	 * mapped) */
	const uint8_t *src = (const uint8_t *)mem_ptr(&job->src) + (size_t)job->row_begin * rs;
	if (affine_tiny(src, rs, job->row_end - job->row_begin, job->n_per_row, &fmt))
		return s->host->dequantize_ref(job->type, src, (float *)mem_ptr(&job->dst) + job->row_begin * job->n_per_row,
					       job->row_end - job->row_begin, job->n_per_row);
	if (frow > s->max_bytes || rs > s->max_bytes)
		return QNT_E_UNSUPPORTED;
	const int64_t step = rows_per_pass(s, frow > rs ? frow : rs);

	qnt_status st = QNT_OK;
	pthread_mutex_lock(&s->mu);
	for (int64_t r0 = job->row_begin; r0 < job->row_end && st == QNT_OK; r0 += step) {
		const int64_t nr = job->row_end - r0 < step ? job->row_end - r0 : step;
		struct qnt_buffer *w, *y;
		uint64_t woff, yoff;
		if ((st = operand(s, &job->src, STAGE_W, (uint64_t)r0 * rs, (uint64_t)nr * rs, 1, &w, &woff)) != QNT_OK ||
		    (st = operand(s, &job->dst, STAGE_Y, (uint64_t)r0 * frow, (uint64_t)nr * frow, 0, &y, &yoff)) != QNT_OK)
			break;
		if (woff > UINT32_MAX || yoff / 4 > UINT32_MAX) {
			st = QNT_E_UNSUPPORTED;
			break;
		}
		const uint32_t pc[8] = { (uint32_t)job->n_per_row, (uint32_t)nr, (uint32_t)rs, (uint32_t)woff,
					 (uint32_t)(yoff / 4), fmt.bits, fmt.group, fmt.dt };
		const uint64_t runs = (uint64_t)nr * (((uint64_t)job->n_per_row + 31) / 32);
		st = run(s, OP_DEQUANT, &fmt, w, w, y, pc, 8, groups(runs, 256), 1);
		if (st == QNT_OK && !job->dst.buffer)
			memcpy((float *)job->dst.host + r0 * job->n_per_row, y->map, (size_t)nr * frow);
	}
	pthread_mutex_unlock(&s->mu);
	return st;
}

/* Whether the shader may quantize these floats (n a multiple of the block
 * size bs): all finite and, for MLX affine, finite in the element type too
 * (the NaN payloads of IEEE operations differ between devices; the
 * reference's are x86's); each nonzero |x| at least TINY, and so each
 * block's nonzero max - min where a format subtracts its minimum (q4_1,
 * q5_1, MLX affine): then its scale (range over at most 255, or amax over
 * at most 127) and the values made from it stay normal or round to whole
 * codes. */
static int device_safe(const float *x, int64_t n, const struct vk_fmt *f, int64_t bs)
{
	const float lim = f->code != F_MLX_AFFINE || f->dt == 0 ? 3.4028234e38f : f->dt == 1 ? 65504.0f : 3.38e38f;
	const int with_min = f->code == 4u || f->code == 6u || f->code == F_MLX_AFFINE;
	for (int64_t b = 0; b < n; b += bs) {
		float lo = x[b], hi = x[b];
		for (int64_t i = b; i < b + bs; i++) {
			const float a = fabsf(x[i]);
			if (!(a <= lim) || (a < TINY && a != 0.0f))
				return 0;
			lo = x[i] < lo ? x[i] : lo;
			hi = x[i] > hi ? x[i] : hi;
		}
		if (with_min && hi - lo < TINY && hi != lo)
			return 0;
	}
	return 1;
}

/* q4_0..q8_0 and MLX affine without importance on the device
 * (shaders/quant.comp); with importance weights, or rows the shader does
 * not take (device_safe), the reference on the host (buffers are mapped). */
static qnt_status vk_quantize(void *state, const qnt_kernel_job *job)
{
	struct vk_state *s = state;
	if (!job || job->struct_size < sizeof *job || job->op != QNT_OP_QUANTIZE)
		return QNT_E_INVALID_ARG;
	struct vk_fmt fmt;
	if (!fmt_of(s->host, job->type, &fmt) || !quantizes(&fmt))
		return QNT_E_UNSUPPORTED;
	const size_t rs = s->host->row_size(job->type, job->n_per_row);
	if (rs == 0 || job->row_begin < 0 || job->row_end > job->nrows || job->row_begin > job->row_end)
		return QNT_E_INVALID_ARG;
	if ((job->src.buffer && (job->src.offset & 3u)) || (!job->src.buffer && !job->src.host) ||
	    (!job->dst.buffer && !job->dst.host))
		return QNT_E_INVALID_ARG;
	const uint64_t frow = (uint64_t)job->n_per_row * sizeof(float);
	const int64_t r0 = job->row_begin, nrows = job->row_end - job->row_begin;
	if (job->src.buffer && job->src.offset + (uint64_t)job->row_end * frow > job->src.buffer->size)
		return QNT_E_INVALID_ARG;
	if (job->dst.buffer && job->dst.offset + (uint64_t)job->row_end * rs > job->dst.buffer->size)
		return QNT_E_INVALID_ARG;
	const float *src = (const float *)mem_ptr(&job->src) + r0 * job->n_per_row;
	const int64_t block = fmt.code == F_MLX_AFFINE ? (int64_t)fmt.group : 32; /* q4_0..q8_0: 32 */
	if (job->importance || !device_safe(src, nrows * job->n_per_row, &fmt, block))
		return s->host->quantize_ref(job->type, src, (char *)mem_ptr(&job->dst) + (size_t)r0 * rs, nrows,
					     job->n_per_row, job->importance);
	if (frow > s->max_bytes || rs > s->max_bytes)
		return QNT_E_UNSUPPORTED;
	const int64_t step = rows_per_pass(s, frow);
	const uint32_t bs = fmt.code == F_Q8_0 ? 32 : fmt.group;
	qnt_status st = QNT_OK;
	pthread_mutex_lock(&s->mu);
	for (int64_t a = r0; a < job->row_end && st == QNT_OK; a += step) {
		const int64_t nr = job->row_end - a < step ? job->row_end - a : step;
		struct qnt_buffer *w, *x;
		uint64_t woff, xoff;
		if ((st = operand(s, &job->src, STAGE_X, (uint64_t)a * frow, (uint64_t)nr * frow, 1, &x, &xoff)) !=
			    QNT_OK ||
		    (st = operand(s, &job->dst, STAGE_W, (uint64_t)a * rs, (uint64_t)nr * rs, 0, &w, &woff)) != QNT_OK)
			break;
		if (woff > UINT32_MAX || xoff / 4 > UINT32_MAX) {
			st = QNT_E_UNSUPPORTED;
			break;
		}
		const uint32_t pc[8] = { (uint32_t)job->n_per_row, (uint32_t)nr, (uint32_t)rs, (uint32_t)woff,
					 (uint32_t)(xoff / 4), fmt.bits, fmt.group, fmt.dt };
		const uint64_t blocks = (uint64_t)nr * ((uint64_t)job->n_per_row / bs);
		st = run(s, OP_QUANT, &fmt, w, x, w, pc, 8, groups(blocks, 64), 1);
		if (st == QNT_OK && !job->dst.buffer)
			memcpy((char *)job->dst.host + (size_t)a * rs, w->map, (size_t)nr * rs);
	}
	pthread_mutex_unlock(&s->mu);
	return st;
}

static qnt_type vk_matmul_xq_type(void *state, qnt_type wtype)
{
	(void)state;
	(void)wtype;
	return QNT_TYPE_INVALID; /* the shaders read the float activations */
}

static qnt_status vk_matmul(void *state, const qnt_matmul_job *job)
{
	struct vk_state *s = state;
	if (!job || job->struct_size < sizeof *job)
		return QNT_E_INVALID_ARG;
	struct vk_fmt fmt;
	if (!fmt_of(s->host, job->wtype, &fmt))
		return QNT_E_UNSUPPORTED;
	const size_t rs = s->host->row_size(job->wtype, job->n_in);
	if (rs == 0 || job->n_cols < 0 || job->row_begin < 0 || job->row_end > job->n_out ||
	    job->row_begin > job->row_end)
		return QNT_E_INVALID_ARG;
	if ((job->x.buffer && (job->x.offset & 3u)) || (job->y.buffer && (job->y.offset & 3u)))
		return QNT_E_INVALID_ARG;
	if (job->row_end == job->row_begin || job->n_cols == 0)
		return QNT_OK;
	const uint64_t xbytes = (uint64_t)job->n_cols * (uint64_t)job->n_in * sizeof(float);
	const uint64_t ybytes = (uint64_t)job->n_cols * (uint64_t)job->n_out * sizeof(float);
	if (xbytes > s->max_bytes || ybytes > s->max_bytes || rs > s->max_bytes)
		return QNT_E_UNSUPPORTED;
	const int64_t step = rows_per_pass(s, rs);

	qnt_status st = QNT_OK;
	pthread_mutex_lock(&s->mu);
	struct qnt_buffer *x, *y;
	uint64_t xoff, yoff;
	/* y goes through staging whole (columns are n_out apart) */
	if ((st = operand(s, &job->x, STAGE_X, 0, xbytes, 1, &x, &xoff)) != QNT_OK ||
	    (st = operand(s, &job->y, STAGE_Y, 0, ybytes, 0, &y, &yoff)) != QNT_OK)
		goto out;
	for (int64_t r0 = job->row_begin; r0 < job->row_end && st == QNT_OK; r0 += step) {
		const int64_t nr = job->row_end - r0 < step ? job->row_end - r0 : step;
		struct qnt_buffer *w;
		uint64_t woff;
		if ((st = operand(s, &job->w, STAGE_W, (uint64_t)r0 * rs, (uint64_t)nr * rs, 1, &w, &woff)) != QNT_OK)
			break;
		if (woff > UINT32_MAX || xoff / 4 > UINT32_MAX || yoff / 4 + (uint64_t)r0 > UINT32_MAX) {
			st = QNT_E_UNSUPPORTED;
			break;
		}
		const uint32_t pc[11] = { (uint32_t)job->n_in, (uint32_t)nr,          (uint32_t)rs,
					 (uint32_t)woff,      (uint32_t)(xoff / 4), (uint32_t)(yoff / 4 + (uint64_t)r0),
					 (uint32_t)job->n_cols, (uint32_t)job->n_out, fmt.bits, fmt.group, fmt.dt };
		st = run(s, OP_MATMUL, &fmt, w, x, y, pc, 11, groups((uint64_t)nr, 64),
			 groups((uint64_t)job->n_cols, 4));
	}
	if (st == QNT_OK && !job->y.buffer) {
		/* only the rows this job computed */
		const float *src = y->map;
		float *dst = job->y.host;
		for (int64_t c = 0; c < job->n_cols; c++)
			memcpy(dst + c * job->n_out + job->row_begin, src + c * job->n_out + job->row_begin,
			       (size_t)(job->row_end - job->row_begin) * sizeof(float));
	}
out:
	pthread_mutex_unlock(&s->mu);
	return st;
}

/* ------------------------------------------------------------------ */
/* Device memory                                                        */
/* ------------------------------------------------------------------ */

static qnt_status vk_buffer_alloc(void *state, int32_t device, uint64_t size, qnt_buffer **out)
{
	struct vk_state *s = state;
	if (!out)
		return QNT_E_INVALID_ARG;
	*out = NULL;
	VkPhysicalDevice pds[MAX_DEVICES];
	uint32_t n = compute_devices(&s->f, s->inst, pds);
	if (device < 0 || (uint32_t)device >= n || pds[device] != s->pd)
		return QNT_E_NOT_FOUND;
	if (size > s->max_bytes)
		return QNT_E_UNSUPPORTED;
	struct qnt_buffer *b = s->host->alloc(sizeof *b, 16);
	if (!b)
		return QNT_E_NO_MEMORY;
	pthread_mutex_lock(&s->mu);
	qnt_status st = buf_create(s, size, b);
	pthread_mutex_unlock(&s->mu);
	if (st != QNT_OK) {
		s->host->free(b);
		return st;
	}
	b->size = size; /* what the caller may address */
	*out = b;
	return QNT_OK;
}

static void vk_buffer_free(void *state, qnt_buffer *buf)
{
	struct vk_state *s = state;
	if (!buf)
		return;
	pthread_mutex_lock(&s->mu);
	buf_destroy(s, buf);
	pthread_mutex_unlock(&s->mu);
	s->host->free(buf);
}

static qnt_status vk_buffer_write(void *state, qnt_buffer *buf, uint64_t offset, const void *src, uint64_t size)
{
	(void)state;
	if (!buf || (!src && size) || offset > buf->size || size > buf->size - offset)
		return QNT_E_INVALID_ARG;
	memcpy((char *)buf->map + offset, src, size);
	return QNT_OK;
}

static qnt_status vk_buffer_read(void *state, qnt_buffer *buf, uint64_t offset, void *dst, uint64_t size)
{
	(void)state;
	if (!buf || (!dst && size) || offset > buf->size || size > buf->size - offset)
		return QNT_E_INVALID_ARG;
	memcpy(dst, (const char *)buf->map + offset, size);
	return QNT_OK;
}

static void *vk_buffer_host_ptr(void *state, qnt_buffer *buf)
{
	(void)state;
	return buf ? buf->map : NULL;
}

static qnt_status vk_synchronize(void *state, int32_t device)
{
	(void)state;
	(void)device;
	return QNT_OK; /* every job has finished when its call returns */
}

/* ------------------------------------------------------------------ */
/* Score and entry                                                      */
/* ------------------------------------------------------------------ */

static char description[320] = "Vulkan compute shaders (quantize, dequantize, matmul)";

static int32_t vk_score(const qnt_host_api *host, char *why, size_t why_size)
{
	/* the module uses log, alloc, free and row_size: the 1.0 table's start */
	if (!host || host->abi_version != QNT_BACKEND_ABI || !QNT_HOST_HAS(host, type_info)) {
		snprintf(why, why_size, "host table too old");
		return 0;
	}
	struct vk_fns f;
	VkInstance inst;
	if (!make_instance(&inst, &f, why, why_size))
		return 0;
	VkPhysicalDevice pds[MAX_DEVICES];
	uint32_t n = compute_devices(&f, inst, pds);
	int32_t best = 0;
	VkPhysicalDeviceProperties bp;
	for (uint32_t i = 0; i < n; i++) {
		VkPhysicalDeviceProperties p;
		f.vkGetPhysicalDeviceProperties(pds[i], &p);
		int32_t sc = device_score(p.deviceType);
		if (sc > best) {
			best = sc;
			bp = p;
		}
	}
	if (best == 0)
		snprintf(why, why_size, "the Vulkan loader found no device with a compute queue");
	else
		snprintf(description, sizeof description,
			 "Vulkan compute shaders (quantize, dequantize, matmul); %u device%s, best: %.200s (%s)", (unsigned)n,
			 n == 1 ? "" : "s", bp.deviceName, device_type_name(bp.deviceType));
	f.vkDestroyInstance(inst, NULL);
	return best;
}

static const qnt_backend_vtbl vtbl = {
	.struct_size = sizeof(qnt_backend_vtbl),
	.abi_version = QNT_BACKEND_ABI,
	.name = "vulkan",
	.description = description,
	.caps = QNT_BACKEND_CAP_DEVICE_MEMORY | QNT_BACKEND_CAP_UNIFIED_MEMORY,
	.score = vk_score,
	.open = vk_open,
	.close = vk_close,
	.device_count = vk_device_count,
	.device_props = vk_device_props,
	.supports = vk_supports,
	.quantize = vk_quantize,
	.dequantize = vk_dequantize,
	.scratch_bytes = NULL,
	.buffer_alloc = vk_buffer_alloc,
	.buffer_free = vk_buffer_free,
	.buffer_write = vk_buffer_write,
	.buffer_read = vk_buffer_read,
	.buffer_host_ptr = vk_buffer_host_ptr,
	.synchronize = vk_synchronize,
	.get_proc = NULL,
	.matmul_xq_type = vk_matmul_xq_type,
	.matmul = vk_matmul,
};

VKB_EXPORT const qnt_backend_vtbl *qnt_backend_entry(uint32_t host_abi, const qnt_host_api *host)
{
	(void)host;
	return host_abi == QNT_BACKEND_ABI ? &vtbl : NULL;
}
