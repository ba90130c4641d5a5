/*
 * cdc.c - FastCDC with normalized chunking (BK-01: a document stored again,
 * or changed in a few bytes, gives mostly the same chunks, which a backup
 * keeps once; docs/formats/backup.md §3).
 *
 * Rolling hash: fp = (fp << 1) + gear[byte] over 64-bit words, so bit k of
 * fp depends on the last k + 1 bytes.  The masks select the top bits, the
 * ones that see the widest window.  Hashing starts at KURA_CDC_MIN (the
 * bytes before never decide a cut); up to KURA_CDC_AVG a cut needs the top
 * 22 bits zero (rare), past it the top 18 (likely), so chunk sizes
 * gather around the average; at KURA_CDC_MAX the chunk is cut anyway.
 */
#include "backup/cdc.h"

#include "util/banned.h"

/* 2^20 = KURA_CDC_AVG; normalization level 2: 20 + 2 and 20 - 2 bits. */
#define MASK_S (~(uint64_t)0 << (64 - 22))
#define MASK_L (~(uint64_t)0 << (64 - 18))

/* gear[i] = first 8 bytes, big-endian, of SHA-256("kura.backup.gear.v1" || u8 i).
 * Part of the format: a different table cuts different chunks.  Generated
 * once and checked against the derivation by tests/unit/test_cdc.c. */
const uint64_t kura_cdc_gear[256] = {
	0x0dd3d0d7bf8858f5u, 0xa3de44bb879648d6u, 0x29ca5ad2f8a6b78au,
	0xac622a08f69dd0e4u, 0xbca5996f8d09f3edu, 0xdc8e222d24857b50u,
	0x97c0c985c9a8812fu, 0xf462848e5a1ae344u, 0x14949ffdb50213f0u,
	0xfdd53c6b781cc7fcu, 0x6312adcf1c7466c3u, 0x314aae0db91a54afu,
	0xa5aa403def9b6b53u, 0xeca94bcf5bb68d82u, 0xc89278190a35253au,
	0x120cd13bef6557ddu, 0x388a4481e2b3b29eu, 0x3c6339ecfb7ff163u,
	0xa15182437ed04cceu, 0x1ee83ef71a4b0e3eu, 0xde1b15c8f26425b7u,
	0xb9404f1693401467u, 0x355b094884b0f525u, 0x94473ff4930bf24au,
	0x4deba32ec7098c6cu, 0xad12c03ec0163001u, 0xdc847bbf70305501u,
	0xd56d0632005402adu, 0x7a156179b22215d6u, 0x965a9acf979e3ec2u,
	0x28baf125cb475e32u, 0x3db859f3cecdfacau, 0xc7d83394cc8195a7u,
	0x0e2e69bdbab5c282u, 0x72ec1aabe5e36539u, 0xbb96c75c88237266u,
	0xd32d22047b4d46fcu, 0x8f4dfaa0b6feb6deu, 0x44d82760c49a6465u,
	0x8385dc0dc70d368bu, 0x5d0df98baf7e0008u, 0xde34f3b04a9b7f9eu,
	0x76f6e2a6b647fb7au, 0x25525e8e5285e158u, 0xa0b9bfe0df27b555u,
	0xa32a83941c5fde95u, 0x6c00d2c318bb6c01u, 0xd973b6e6353e7e16u,
	0x3f1822ca64f7b080u, 0xda3e15017dc3b1fau, 0x4580ae3f2a7b1c3eu,
	0x01c0d3b0ce6dd307u, 0xddb434889647b750u, 0xfa5578c2b040ed7du,
	0x3bc9306e55e0523eu, 0x1505270219d81ea7u, 0x0d19a450ab38887bu,
	0x540f777f363857c9u, 0x4b4b135e95f64dafu, 0xda1a231c5d2ed267u,
	0x8b3c6d27bdd64422u, 0x0972bb0b2028f806u, 0x062fc9326ecd5167u,
	0x834dec621669c3e0u, 0x4530b605231bae5au, 0xe635d6aaf1e2b391u,
	0x24b4eddffd364a8du, 0xc73fa578ab62dde2u, 0xa97b2c32b2249646u,
	0xd00d5f4d30d92f63u, 0xb85f215bb02bbc19u, 0x1702628a285282c8u,
	0xd515c8be2767cb60u, 0x50852e29d2966cd9u, 0xe72691eae3b8b060u,
	0x3bc488f90539fa89u, 0x4f53cde4f9f3e8ecu, 0x39b959a246881bfdu,
	0xc523a1e303dfdb16u, 0xd52f2462d490c383u, 0xb5e227e9324089f0u,
	0x80850186986dac68u, 0x24fb39c8525b81eeu, 0x0db806df348ad9d0u,
	0xd3510b472ef118c8u, 0x7745a420a18ddab0u, 0xd181d63a655fd737u,
	0x8acf32b0031da10cu, 0xea36279e07d3011eu, 0x8b5392af6c880662u,
	0xb18d3600cf203ccfu, 0xfbeee66298e49453u, 0xb0ae3f6af0216317u,
	0x95a45f9dc84c7062u, 0x654a192f7146fea9u, 0xde6a7dfeff8019f1u,
	0xc272fec879b4258cu, 0x1083842cc5b87a07u, 0xb546788637ef5953u,
	0x8d6ed1e4c9bb722fu, 0x3e5ffa3a8a99c0f7u, 0x9ced966007c0f3b1u,
	0x80f11746b0d60836u, 0x3c68935e89877dadu, 0x4867ac9524cbace5u,
	0x319520afb4dcdc4cu, 0x15cbf6f7ec5d1082u, 0x8cee47ce69d3d44au,
	0xae973396ff9368e8u, 0x94113b798814c606u, 0x197222cae5eb4143u,
	0xfdafbe073c9f4b2du, 0x47fd953ab30fad9au, 0xa7467d95c18acdeau,
	0xefb57517ca427f0cu, 0x386acfd8b6d0538au, 0x7d67fc55e93665edu,
	0x581c0b84e2bcb82du, 0x4dbd92d5f5b3d4a5u, 0xf61828996d9668aeu,
	0x335f5b8250e9f448u, 0x27fceac8b4d05e03u, 0x9370c9124c26b242u,
	0xce1eca4d56c1e178u, 0xec267ba3ecd6709cu, 0x704bddfb653faa77u,
	0x3d2ab2e7068df9f9u, 0x5c1674d1cf642d2au, 0x929bd4398418f794u,
	0x6c0a9f122bf9d1f4u, 0xc29305898e8865f5u, 0xaaa4f464b6f952e2u,
	0xad42ac6a25267571u, 0xea834c73fd36a51fu, 0xabd4914be154ae1eu,
	0x658058c30183cf57u, 0x5fdd7c0a2d3bc3c8u, 0xd992dfb88b2e284du,
	0x27bf6a2331f555c4u, 0x5d6b2889e3340ca2u, 0xeeb5404ad9552b7fu,
	0xb2d274dc9168641bu, 0x7537bb24ed0f69c1u, 0x80ddc1034ccdf427u,
	0x030528e39aade51cu, 0xc5ce8b1f4b5f00e0u, 0x00671b6009411cb4u,
	0xfd67147e2403930bu, 0x309d1956ea99038cu, 0x3e3b0491d7535c1bu,
	0xadc8091d9e5ca67au, 0xe9c17da2dbc3a77du, 0x1042c2580d820f18u,
	0x0939fc7916a884efu, 0x5ae717979732629bu, 0x982459d4cf7aa459u,
	0x6e8cfd7c84ed3a41u, 0x0d980447d441be1eu, 0x9108a19bacb2a91du,
	0x0a10b3cb4ae8eb65u, 0x6fb31dd6c5f808ccu, 0xfd5a14679f042e7cu,
	0xa30fbfe9bfb3f731u, 0xfed50b728dcd952eu, 0xa0a50b85293c4cc3u,
	0xe799afb81389df5du, 0x81190b2c2c066a6cu, 0x81815c03141edeceu,
	0xdd29f7daede6f4a2u, 0x23ebe1b8eb060fc1u, 0xfb1496df64ea2180u,
	0x55fc0cb1dd0ff0f0u, 0x48deaeede14d873au, 0x9853145bd5c75bfbu,
	0xd6e1a435e14d7225u, 0xb172746679fd48bfu, 0x758118e0bd7013f9u,
	0x7422ae9493a0e701u, 0x7d4127c953b030a8u, 0x16d32ed462b9fb11u,
	0xbf21f7b9ddbdda04u, 0xf782c0ae3178d94cu, 0xf372c6b6254dcb48u,
	0x754b787a1029e55eu, 0xda319322da05ca00u, 0x1744b7775435ccc0u,
	0x8e40a6e18f02a6dau, 0x56cee8a2e582927au, 0x20093515e4f8e488u,
	0xcd78b7793c7a3d5du, 0x001afd5147e00679u, 0xc79c596f0b672e47u,
	0x24a52e567d173927u, 0xa66b18e03a85b31cu, 0x1eaf35ff3511b06eu,
	0xa92b3a528b101994u, 0xfd73c624a3ee39bau, 0xc9982a59af70089fu,
	0xa75aced43c1711e9u, 0x588232bd7c3a1addu, 0x1f04e23af703a13eu,
	0xba36c43e9b8842e1u, 0x4b3dc8557fb6fb15u, 0x262e754bc95dd47bu,
	0x8a5b24656d5821cbu, 0x4c67dfb2b365e91fu, 0x4b45942ae5db3782u,
	0xc810691dd1732dadu, 0x6996c45327dec48fu, 0xfe8ea020a13a8e6au,
	0x22dae1d36453dd3du, 0xb0647d86ecc417beu, 0xb119bf2f595d8d38u,
	0xd63bf2ba571760bcu, 0xa013dffac715ac89u, 0x168cb3048e1b589eu,
	0x2a79028317778223u, 0x3f9a6d151c04182du, 0x946ccd65c294f52du,
	0xd63b5a210eaeb192u, 0x063da384bc9c9df1u, 0x03d369767b30f263u,
	0x4f4296ac24eff94bu, 0xd095a492ad603b71u, 0x1bd3932e5e93befdu,
	0x7233583b8b71ff9au, 0x5a020a44e7ef91a4u, 0x6a6617cf0d6954eeu,
	0xb3ba97166d198456u, 0x7aef2464a9a9528du, 0xfc24c52cfbc46972u,
	0xc0abad174c0a97a4u, 0x3c165b46d2792b26u, 0x704533269591af2eu,
	0xdb3bb885e1988431u, 0x5fa224a1d014566bu, 0x08e8328d31c31fbdu,
	0xcc4c71e0b08a75d0u, 0xb73b9ab04484358du, 0x782759422545673du,
	0xb3f787bca93ac1dfu, 0xb684373826f874adu, 0xdf6f3f14a287ec68u,
	0xd4d4aa0ab01eff55u, 0x86d7bd44111cef87u, 0xf7f28e3d0b015458u,
	0x1c0d341af8e4b1f8u, 0xa5e0978ea39a9ce9u, 0x3ee3724b194b02fdu,
	0x535e7a0629f4d5c0u, 0x6ccf7ce858802e07u, 0xe8a2ade354e78012u,
	0xf9ce1edf5ed68f68u, 0x636b02fb971696e8u, 0x84fec05cc2d243b8u,
	0xaaf2b4abbc2375bcu,
};

size_t kura_cdc_cut(const uint8_t *p, size_t n)
{
	if (n <= KURA_CDC_MIN)
		return n;
	size_t end = n < KURA_CDC_MAX ? n : KURA_CDC_MAX;
	size_t normal = end < KURA_CDC_AVG ? end : KURA_CDC_AVG;
	uint64_t fp = 0;
	size_t i = KURA_CDC_MIN;
	for (; i < normal; i++) {
		fp = (fp << 1) + kura_cdc_gear[p[i]];
		if (!(fp & MASK_S))
			return i + 1;
	}
	for (; i < end; i++) {
		fp = (fp << 1) + kura_cdc_gear[p[i]];
		if (!(fp & MASK_L))
			return i + 1;
	}
	return end;
}
